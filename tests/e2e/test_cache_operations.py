"""The response cache as an operator sees it, through real two-worker gateways: `/admin/stats`
and `/admin/spend` count hits and misses from the ledger and agree with `/metrics`; a hit is a
request whose cost (nothing by default) is spend, its saving reported apart; the in-process
cache's bytes are summed over the workers, and not reported at all for Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.access_setup import ADMIN, ECHO_CATALOG, MASTER, admin
from tests.e2e.test_console_browser import eventually
from tests.gateway_process import GatewayProcess

CACHE_CONFIG = "cache:\n  enabled: true\n  ttl_seconds: 600\n"


def start(workdir: Path, workers: int, **env: str) -> GatewayProcess:
    return GatewayProcess(
        workdir, ECHO_CATALOG, env={"CALCIFER_MASTER_KEY": MASTER, **env}, workers=workers,
        config_extra=CACHE_CONFIG,
    ).start()  # fmt: skip


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = start(tmp_path_factory.mktemp("cache-ops-local"), workers=2)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[GatewayProcess]:
    process = start(tmp_path_factory.mktemp("cache-ops-redis"), workers=2, CALCIFER_REDIS_URL=redis_url)
    yield process
    process.stop()


def ask(gateway: GatewayProcess, prompt: str, **headers: str) -> httpx.Response:
    """One cacheable chat request (temperature 0), on a new connection: any worker may take it."""
    body = {"model": "echo4", "messages": [{"role": "user", "content": prompt}], "temperature": 0}
    url, headers = gateway.url + "/v1/chat/completions", {"Connection": "close", **headers}
    response = httpx.post(url, json=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    time.sleep(0.1)  # a miss is stored after its answer was sent
    return response


def stats(gateway: GatewayProcess) -> dict[str, Any]:
    found: dict[str, Any] = admin(gateway, "GET", "/admin/stats?window=hour").json()
    return found


def scrape(gateway: GatewayProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(gateway.url + "/metrics", headers={**ADMIN, "Connection": "close"}, timeout=5)
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_ledger_admin_api_and_metrics_agree_on_hits_misses_and_savings(shared: GatewayProcess) -> None:
    run = uuid.uuid4().hex[:8]  # Redis outlives the module: prompts of this run only
    first = ask(shared, f"what is {run}?")
    hits = [ask(shared, f"what is {run}?") for _ in range(2)]  # either worker: Redis is shared
    other = ask(shared, f"who is {run}?")
    bypassed = ask(shared, f"why is {run}?", **{"Cache-Control": "no-store"})
    results = [r.headers["x-calcifer-cache"] for r in (first, *hits, other, bypassed)]
    assert results == ["miss", "hit", "hit", "miss", "bypass"]
    answered = Decimal(first.headers["x-calcifer-cost"])
    assert answered > 0 and all(Decimal(hit.headers["x-calcifer-cost"]) == 0 for hit in hits)

    figures = eventually(lambda: (s := stats(shared))["totals"]["requests"] == 5 and s)
    assert figures, "the ledger never recorded the five requests"
    cache = figures["cache"]
    assert (cache["hits"], cache["misses"], cache["hit_ratio"]) == (2, 2, 0.5)
    assert Decimal(cache["saved_usd"]) == 2 * answered
    assert sum(b["cache_hits"] for b in figures["buckets"]) == 2
    # Spend: the hits are requests, their cost (0) is spend, what they saved is reported apart.
    spend = admin(shared, "GET", "/admin/spend").json()["total"]
    billed = [Decimal(r.headers["x-calcifer-cost"]) for r in (first, *hits, other, bypassed)]
    assert (spend["requests"], Decimal(spend["cost_usd"])) == (5, sum(billed))
    assert (spend["cache_hits"], Decimal(spend["saved_usd"])) == (2, 2 * answered)
    # /metrics says the same, whichever worker answers the scrape.
    for _ in range(4):
        samples = scrape(shared)
        counted = {result: samples.get(("calcifer_cache_requests_total", (("result", result),)), 0)
                   for result in ("hit", "miss", "bypass")}  # fmt: skip
        assert counted == {"hit": 2, "miss": 2, "bypass": 1}
        assert not any(name == "calcifer_cache_bytes" for name, _ in samples)  # Redis: not measured
    assert (cache["bytes_held"], cache["bytes_of"]) == (None, "not measured (Redis)")


def test_bytes_held_are_summed_over_the_workers_and_grow_only_with_stored_misses(
    local: GatewayProcess,
) -> None:
    def held() -> tuple[int, int, float]:
        """Bytes /admin/stats reports, misses in the ledger, bytes a scrape reports."""
        cache = stats(local)["cache"]
        assert cache["bytes_of"] == "all workers"
        return cache["bytes_held"], cache["misses"], scrape(local)[("calcifer_cache_bytes", ())]

    assert held() == (0, 0, 0.0)
    ask(local, "question 1")
    entry = eventually(lambda: held()[0])  # the gauge is sampled once a second
    assert entry > 0
    for n in range(2, 7):  # five more answers of the same size, wherever they land
        ask(local, f"question {n}")
    # "question 1" again until a worker that has not stored it takes it (a second miss): both
    # workers then hold entries, and the sum counts each stored answer once.
    results = [ask(local, "question 1").headers["x-calcifer-cache"] for _ in range(30)]
    assert "miss" in results and "hit" in results, results
    assert results.count("miss") == 1  # the other worker stored it once, then hit too
    misses = 7
    # Entries differ by a few bytes (a stored time's digits); a worker left out would be a
    # whole entry short.
    def summed() -> bool:
        in_stats, in_ledger, scraped = held()
        return in_ledger == misses and in_stats == scraped and abs(in_stats - misses * entry) <= 16 * misses

    assert eventually(summed), (held(), misses, entry)


def test_without_metrics_the_console_reports_the_bytes_of_the_worker_that_answers(
    tmp_path: Path,
) -> None:
    gateway = start(tmp_path, workers=1, CALCIFER_METRICS_ENABLED="false")
    try:
        ask(gateway, "a question")
        cache = stats(gateway)["cache"]
        assert cache["bytes_of"] == "this worker" and cache["bytes_held"] > 0
        assert httpx.get(gateway.url + "/metrics", headers=ADMIN).status_code == 404
    finally:
        gateway.stop()
