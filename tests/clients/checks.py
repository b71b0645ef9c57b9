"""What a finished agent task must show: the client's exit and answer, the file its tool wrote,
the upstream turns, and the gateway's ledger rows with the served model and the exact cost."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from tests.clients.agents import Clients, Run, claude_code_env, codex_env, run_claude_code, run_codex
from tests.e2e.access_setup import admin, new_key
from tests.fakes.agent_script import AgentTask, FakeAgentUpstream
from tests.fakes.agent_wire import INPUT_TOKENS, OUTPUT_TOKENS
from tests.fakes.upstream import Received
from tests.gateway_process import GatewayProcess

T = TypeVar("T")
TASK = AgentTask(
    command="echo calcifer-e2e > done.txt && cat done.txt",
    final_text="Done: done.txt holds calcifer-e2e.",
)
PROMPT = "Write calcifer-e2e into done.txt in this directory."
LEDGER_SECONDS = 10
"""The ledger is written, and holds are settled, off the request path."""
BUDGET_USD = "5.00"
"""Above the most one request holds (`access.max_hold_usd`, $1): a coding agent asks for up to
128,000 output tokens, so a smaller budget refuses it before it has spent anything."""


@dataclass(frozen=True)
class Target:
    """Where the gateway should have sent the client's requests, and how it should record them."""

    route: str
    """The ledger's route: the client's dialect."""
    served_model: str
    upstream_path: str
    upstream_model: str
    price_per_million: tuple[Decimal, Decimal]
    """(input, output) USD per 1M tokens, as in the catalog."""

    @property
    def cost_per_turn(self) -> Decimal:
        price_in, price_out = self.price_per_million
        return (INPUT_TOKENS * price_in + OUTPUT_TOKENS * price_out) / 1_000_000


CLAUDE_AGENT = Target("messages", "claude-agent", "/v1/messages", "claude-agent-upstream",
                      (Decimal("5.00"), Decimal("25.00")))  # fmt: skip
GPT_AGENT_CHAT = Target("messages", "gpt-agent", "/v1/chat/completions", "gpt-agent-upstream",
                        (Decimal("1.25"), Decimal("10.00")))  # fmt: skip
GPT_AGENT_RESPONSES = Target("responses", "gpt-agent", "/v1/responses", "gpt-agent-upstream",
                             (Decimal("1.25"), Decimal("10.00")))  # fmt: skip
CLAUDE_AGENT_BRIDGED = Target("responses", "claude-agent", "/v1/messages", "claude-agent-upstream",
                              (Decimal("5.00"), Decimal("25.00")))  # fmt: skip


@dataclass(frozen=True)
class Workbench:
    """One test's run of a client: the session's gateway and upstream (its record cleared), a
    throw-away HOME and working directory; each run gets a key of its own for its ledger rows."""

    clients: Clients
    gateway: GatewayProcess
    upstream: FakeAgentUpstream
    home: Path
    workdir: Path

    def claude_code(self, model: str | None, target: Target) -> None:
        """Claude Code does the task on `model` (None: its default name) and the gateway sent
        it to `target`."""
        key = new_key(self.gateway, budget={"max_usd": BUDGET_USD})
        self._done(self.run("claude-code", key["key"], model), key["id"], target)

    def codex(self, model: str, target: Target, reasoning_effort: str | None = None) -> None:
        key = new_key(self.gateway, budget={"max_usd": BUDGET_USD})
        self._done(self.run("codex", key["key"], model, reasoning_effort), key["id"], target)

    def run(self, client: str, key: str, model: str | None, reasoning_effort: str | None = None) -> Run:
        """`client` ("claude-code" or "codex") given the task, with `key`, on `model`."""
        if client == "claude-code":
            env = claude_code_env(self.home, self.gateway.url, key, model)
            return run_claude_code(self.clients.claude, env, self.workdir, PROMPT)
        env = codex_env(self.home, self.gateway.url, key, model or "gpt-agent", reasoning_effort)
        return run_codex(self.clients.codex, env, self.workdir, PROMPT)

    def gateway_answers(self, path: str) -> list[tuple[int, str | None]]:
        """(status, error code) of every request to `path` in the gateway's request log so far."""
        lines = (json.loads(line) for line in self.gateway.log().splitlines() if line.startswith("{"))
        return [(line["status"], line.get("error")) for line in lines if line.get("route") == path]

    def _done(self, run: Run, key_id: str, target: Target) -> None:
        assert_task_done(run, self.workdir, self.upstream, self.gateway)
        assert_upstream_turns(self.upstream, target)
        assert_ledger(self.gateway, key_id, target, len(self.upstream.received))
        assert_spend(self.gateway, key_id, target.cost_per_turn * len(self.upstream.received))


def assert_task_done(run: Run, workdir: Path, upstream: FakeAgentUpstream, gateway: GatewayProcess) -> None:
    """The client ran the tool for real and finished with the upstream's final text."""
    explained = f"{run.explain()}\n--- gateway log\n{gateway.log()[-3000:]}"
    assert run.returncode == 0, explained
    assert TASK.final_text in run.stdout, explained
    done = workdir / "done.txt"
    assert done.exists() and done.read_text() == "calcifer-e2e\n", explained
    assert any("calcifer-e2e" in result for result in upstream.tool_results), explained


def assert_upstream_turns(upstream: FakeAgentUpstream, target: Target) -> None:
    """At least the two turns, all to the target's endpoint, each naming the upstream model."""
    seen = [(r.path, r.body.get("model")) for r in upstream.received]
    assert len(seen) >= 2, seen
    assert set(seen) == {(target.upstream_path, target.upstream_model)}, seen


def assert_ledger(gateway: GatewayProcess, key_id: str, target: Target, requests: int) -> None:
    """One ledger row per upstream call: status 200, the client's dialect, the served model and
    the exact cost of the fake's usage."""
    rows = ledger_rows(gateway, key_id, requests)
    described = [(r["route"], r["status"], r["served_model"], r["cost_usd"]) for r in rows]
    assert len(rows) == requests, described
    for row in rows:
        assert (row["route"], row["status"], row["served_model"]) == (
            target.route,
            200,
            target.served_model,
        ), described
        assert Decimal(row["cost_usd"]) == target.cost_per_turn, described


def headers_of(received: Received) -> dict[str, str]:
    """Header names in lower case: HTTP does not care, and the gateway may send either."""
    return {name.lower(): value for name, value in received.headers.items()}


def upstream_key(received: Received) -> str:
    """The key a request reached the upstream with (`x-api-key` or `Authorization: Bearer`)."""
    headers = headers_of(received)
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")


def assert_spend(gateway: GatewayProcess, key_id: str, cost: Decimal) -> None:
    """The key's budget settled to the exact cost, its holds released."""

    def budget_now() -> dict[str, Any]:
        shown: dict[str, Any] = admin(gateway, "GET", f"/admin/keys/{key_id}").json()["budget"]
        return shown

    def settled(budget: dict[str, Any]) -> bool:
        return (Decimal(budget["spend_usd"]), Decimal(budget["reserved_usd"])) == (cost, Decimal(0))

    budget = _eventually(budget_now, settled)
    assert settled(budget), (budget, cost)


def ledger_rows(gateway: GatewayProcess, key_id: str, at_least: int) -> list[dict[str, Any]]:
    def rows() -> list[dict[str, Any]]:
        response = admin(gateway, "GET", f"/admin/requests?key_id={key_id}&limit=100")
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["data"]
        return found

    return _eventually(rows, lambda found: len(found) >= at_least)


def _eventually(fetch: Callable[[], T], done: Callable[[T], bool]) -> T:
    """`fetch()` until `done` says so or LEDGER_SECONDS have passed; the last answer."""
    deadline = time.monotonic() + LEDGER_SECONDS
    while True:
        answer = fetch()
        if done(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)
