"""The documented metric names, the Grafana dashboard and the gateway agree."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from calcifer.telemetry.metrics import GatewayMetrics

ROOT = Path(__file__).resolve().parent.parent.parent
_SUFFIXES = re.compile(r"_(bucket|count|sum)$")


def exposed_names() -> set[str]:
    metrics = GatewayMetrics()
    metrics.watch_breakers(lambda: [("p", "d", False)])
    metrics.watch_cache_bytes(lambda: 0)  # an in-process cache (none with Redis)
    families = text_string_to_metric_families(metrics.exposition().decode())
    return {family.name + ("_total" if family.type == "counter" else "") for family in families}


def test_every_metric_the_gateway_exposes_is_documented_and_nothing_else() -> None:
    page = (ROOT / "docs" / "observability.md").read_text()
    table = "\n".join(line for line in page.splitlines() if line.startswith("| `calcifer_"))
    documented = set(re.findall(r"^\| `(calcifer_[a-z_]+)`", table, re.MULTILINE))
    read_per_scrape = {"calcifer_budget_remaining_usd"}  # from the ledger, with metrics.per_key
    assert documented == exposed_names() | read_per_scrape


def test_the_grafana_dashboard_queries_only_metrics_the_gateway_exposes() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "calcifer.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {_SUFFIXES.sub("", name) for expr in expressions for name in re.findall(r"calcifer_[a-z_]+", expr)}
    assert used <= exposed_names(), sorted(used - exposed_names())
    assert len(used) >= 10
