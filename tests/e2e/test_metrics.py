"""`/metrics` sums every worker: the counts, tokens and cost of known traffic, whichever worker
answers the scrape, and equal to the ledger."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.access_setup import ADMIN as ADMIN_ACCESS
from tests.e2e.access_setup import ECHO_CATALOG, HELLO, MASTER, new_key
from tests.e2e.test_workers import details_from_every_worker
from tests.fakes.otlp_collector import FakeCollector, ReceivedPoint
from tests.gateway_process import GatewayProcess

MASTER_KEY = "calcifer-master-metrics"
ADMIN = {"Authorization": f"Bearer {MASTER_KEY}"}
CATALOG = """
providers:
  echo: {kind: echo}
models:
  echo4:
    provider: echo
    pricing: {input: 3.7, output: 11.3}
"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    process = GatewayProcess(
        tmp_path, CATALOG, env={"CALCIFER_MASTER_KEY": MASTER_KEY}, workers=2,
        config_extra="  watch_seconds: 0\n",
    ).start()  # fmt: skip
    details_from_every_worker(process)
    yield process
    process.stop()


def scrape(gateway: GatewayProcess) -> Samples:
    """One scrape, on a new connection (so each may land on another worker)."""
    response = httpx.get(gateway.url + "/metrics", headers={**ADMIN, "Connection": "close"}, timeout=5)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(value for (sample, found), value in samples.items() if sample == name and wanted <= found)


def send(gateway: GatewayProcess, count: int) -> tuple[int, int, Decimal]:
    """`count` chat requests, half streamed, each on its own connection; returns the prompt and
    completion tokens and the cost the answers reported."""
    prompt = completion = 0
    cost = Decimal(0)
    for number in range(count):
        body = {"model": "echo4", "messages": [{"role": "user", "content": f"hello number {number}"}]}
        if number % 2:
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        response = httpx.post(
            gateway.url + "/v1/chat/completions", json=body, headers={"Connection": "close"}, timeout=10
        )
        assert response.status_code == 200, response.text
        usage = _usage(response)
        prompt += usage["prompt_tokens"]
        completion += usage["completion_tokens"]
        cost += Decimal(str(usage["cost"]))
    return prompt, completion, cost


def _usage(response: httpx.Response) -> dict[str, int | float]:
    if not response.headers["content-type"].startswith("text/event-stream"):
        usage: dict[str, int | float] = response.json()["usage"]
        return usage
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: {")]
    final: dict[str, int | float] = json.loads(events[-1])["usage"]
    return final


def ledger_total(gateway: GatewayProcess, requests: int, admin: dict[str, str] = ADMIN) -> Decimal:
    """The ledger's total cost once it holds `requests` records (it is written off the request
    path, within a second)."""
    deadline = time.monotonic() + 10
    while True:
        spend = httpx.get(gateway.url + "/admin/spend", headers=admin, timeout=5).json()
        if int(spend["total"]["requests"]) >= requests or time.monotonic() > deadline:
            assert int(spend["total"]["requests"]) == requests
            return Decimal(spend["total"]["cost_usd"])
        time.sleep(0.2)


def test_every_scrape_sums_both_workers_and_agrees_with_the_answers_and_the_ledger(
    gateway: GatewayProcess,
) -> None:
    prompt, completion, cost = send(gateway, 40)
    pids: set[int] = set()
    scrapes = 0
    # New connections until both workers have answered (a busy machine may hand several in a row
    # to one worker), at least six scrapes.
    while scrapes < 6 or (len(pids) < 2 and scrapes < 60):
        scrapes += 1
        samples = scrape(gateway)
        assert total(samples, "calcifer_requests_total", route="chat", model="echo4", status="200") == 40
        assert total(samples, "calcifer_tokens_total", model="echo4", type="input") == prompt
        assert total(samples, "calcifer_tokens_total", model="echo4", type="output") == completion
        recorded = total(samples, "calcifer_cost_usd_total", model="echo4")
        assert recorded == pytest.approx(float(cost), rel=1e-12)
        assert total(samples, "calcifer_request_duration_seconds_count", route="chat") == 40
        assert total(samples, "calcifer_time_to_first_token_seconds_count", model="echo4") == 20
        assert total(samples, "calcifer_upstream_attempts_total", provider="echo", outcome="ok") == 40
        assert total(samples, "calcifer_inflight_requests") == 0
        pids.add(gateway.health_detail(new_connection=True)["worker_pid"])
    assert len(pids) == 2, "both workers answered"
    ledger = ledger_total(gateway, 40)
    assert ledger == cost
    assert total(scrape(gateway), "calcifer_cost_usd_total") == pytest.approx(float(ledger), rel=1e-12)


def test_scrapes_need_the_master_key_and_show_no_secret(gateway: GatewayProcess) -> None:
    assert httpx.get(gateway.url + "/metrics", timeout=5).status_code == 401
    wrong = httpx.get(gateway.url + "/metrics", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert wrong.status_code == 401
    send(gateway, 1)
    text = httpx.get(gateway.url + "/metrics", headers=ADMIN, timeout=5).text
    assert MASTER_KEY not in text
    assert 'calcifer_breaker_open{deployment="echo4",provider="echo"} 0.0' in text


def test_a_dead_worker_s_counts_stay_in_the_sums(gateway: GatewayProcess) -> None:
    send(gateway, 10)
    victim = int(gateway.health_detail(new_connection=True)["worker_pid"])
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while victim in details_from_every_worker(gateway) or len(details_from_every_worker(gateway)) < 2:
        assert time.monotonic() < deadline, "the dead worker was not replaced"
        time.sleep(0.2)
    samples = scrape(gateway)
    assert total(samples, "calcifer_requests_total", route="chat", status="200") == 10


def test_genai_metrics_reach_an_otlp_receiver(tmp_path: Path, collector: FakeCollector) -> None:
    env = {
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.server.url,
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
        "OTEL_SERVICE_NAME": "calcifer-metrics-test",
    }
    gateway = GatewayProcess(tmp_path, CATALOG, env=env).start()
    try:
        prompt, completion, _ = send(gateway, 4)
        wanted = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "echo4"}

        def latest(metric: str, **labels: str) -> ReceivedPoint | None:
            points = [
                point for point in collector.points
                if point.metric == metric and point.service_name == "calcifer-metrics-test"
                and (wanted | labels).items() <= point.attributes.items()
            ]  # fmt: skip
            return points[-1] if points else None

        deadline = time.monotonic() + 10
        while (point := latest("gen_ai.server.request.duration")) is None or point.count < 4:
            assert time.monotonic() < deadline, "no complete export received"
            time.sleep(0.1)
        assert point.unit == "s"
        assert point.attributes["gen_ai.provider.name"] == "calcifer.echo"
        inputs = latest("gen_ai.client.token.usage", **{"gen_ai.token.type": "input"})
        outputs = latest("gen_ai.client.token.usage", **{"gen_ai.token.type": "output"})
        assert inputs is not None and inputs.sum == prompt and inputs.unit == "{token}"
        assert outputs is not None and outputs.sum == completion
        first_token = latest("gen_ai.server.time_to_first_token")
        assert first_token is not None and first_token.count == 2  # the streamed half
    finally:
        gateway.stop()


def test_per_key_metrics_name_keys_and_budgets_and_count_refusals(tmp_path: Path) -> None:
    gateway = GatewayProcess(
        tmp_path, ECHO_CATALOG, env={"CALCIFER_MASTER_KEY": MASTER}, auth_required=True,
        config_extra="metrics:\n  per_key: true\n",
    ).start()  # fmt: skip
    try:
        budgeted = new_key(gateway, budget={"max_usd": "1", "period": "day"})
        limited = new_key(gateway, limits={"rpm": 1})
        costs = []
        for secret in (budgeted["key"], limited["key"], limited["key"]):
            response = httpx.post(
                gateway.url + "/v1/chat/completions", json={"model": "echo4", "messages": HELLO},
                headers={"Authorization": f"Bearer {secret}"}, timeout=10,
            )  # fmt: skip
            if response.status_code == 200:
                costs.append(Decimal(str(response.json()["usage"]["cost"])))
        assert len(costs) == 2  # the second request of the rpm-1 key was refused
        ledger_total(gateway, 3, ADMIN_ACCESS)  # every request reached the ledger
        text = httpx.get(gateway.url + "/metrics", headers=ADMIN_ACCESS, timeout=5).text
        samples = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
        assert total(samples, "calcifer_requests_total", key=budgeted["id"], status="200") == 1
        assert total(samples, "calcifer_requests_total", key=limited["id"], status="429") == 1
        assert total(samples, "calcifer_rate_limited_total", scope="key") == 1
        remaining = total(samples, "calcifer_budget_remaining_usd", key=budgeted["id"])
        assert remaining == pytest.approx(float(Decimal(1) - costs[0]), rel=1e-12)
        assert budgeted["key"] not in text and MASTER not in text
    finally:
        gateway.stop()
