"""Record what the real clients send, for the replay tests that run on every CI run:
`python -m tests.clients.record` runs Claude Code and Codex (scripts/install-clients.sh) straight
against the fake agent upstream (no gateway) and writes each client's requests, turn by turn,
to tests/clients/recorded/. Long strings (prompts, tool descriptions) are cut: shapes are kept."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.clients.agents import (
    Clients,
    claude_code_env,
    codex_env,
    install_clients,
    run_claude_code,
    run_codex,
)
from tests.clients.checks import PROMPT, TASK
from tests.fakes.agent_script import FakeAgentUpstream
from tests.fakes.upstream import Received

RECORDED = Path(__file__).resolve().parent / "recorded"
LONGEST_STRING = 200
_NOT_RECORDED = {"host", "content-length", "connection", "accept-encoding", "x-api-key", "authorization"}


def record(clients: Clients) -> list[Path]:
    written = []
    for name, run in (("claude-code", _run_claude_code), ("codex", _run_codex)):
        upstream = FakeAgentUpstream(TASK)
        upstream.server.start()
        try:
            with tempfile.TemporaryDirectory(prefix="calcifer-record-") as temporary:
                home, work = Path(temporary) / "home", Path(temporary) / "work"
                home.mkdir()
                work.mkdir()
                version = run(clients, upstream.server.url, home, work)
        finally:
            upstream.server.stop()
        path = RECORDED / f"{name}-{version}.json"
        path.write_text(json.dumps([_recorded(r) for r in upstream.received], indent=1) + "\n")
        written.append(path)
    return written


def _run_claude_code(clients: Clients, url: str, home: Path, work: Path) -> str:
    env = claude_code_env(home, url, "ck-recording", model="claude-agent")
    done = run_claude_code(clients.claude, env, work, PROMPT)
    assert done.returncode == 0 and (work / "done.txt").exists(), done.explain()
    return _version(clients.claude.parent)


def _run_codex(clients: Clients, url: str, home: Path, work: Path) -> str:
    env = codex_env(home, url, "ck-recording", model="gpt-agent")
    done = run_codex(clients.codex, env, work, PROMPT)
    assert done.returncode == 0 and (work / "done.txt").exists(), done.explain()
    return _version(clients.codex.parent.parent / "@openai" / "codex")


def _version(package: Path) -> str:
    return str(json.loads((package / "package.json").read_text())["version"])


def _recorded(received: Received) -> dict[str, Any]:
    headers = {k: v for k, v in received.headers.items() if k.lower() not in _NOT_RECORDED}
    return {"path": received.path, "query": received.query, "headers": headers, "body": _cut(received.body)}


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > LONGEST_STRING:
        return value[:LONGEST_STRING] + f"…({len(value)} characters)"
    if isinstance(value, list):
        return [_cut(item) for item in value]
    if isinstance(value, dict):
        return {key: _cut(item) for key, item in value.items()}
    return value


def load(name: str) -> list[dict[str, Any]]:
    """The recorded requests of one client (`claude-code` or `codex`), in order."""
    [path] = sorted(RECORDED.glob(f"{name}-*.json"))
    recorded: list[dict[str, Any]] = json.loads(path.read_text())
    return recorded


if __name__ == "__main__":
    for written in record(install_clients()):
        print(written, file=sys.stderr)
