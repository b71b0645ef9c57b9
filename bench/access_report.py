"""Issue 11's targets, from the same run: what keys, a budget, an rpm limit and the ledger cost."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from bench.load import Measurement

BASE = "calcifer-1w"  # the same gateway without keys: the difference is the access layer's cost
DIRECT = "direct"


@dataclass(frozen=True)
class AccessTarget:
    label: str
    scenario: str
    column: str
    metric: str  # "added_p50_ms" (over BASE, at most `limit`) or "rps" (at least `limit`)
    limit: float


ACCESS_TARGETS = [
    AccessTarget(
        "embedded store, non-stream c=1: added p50 over calcifer-1w ≤ 0.5 ms",
        "non-stream c=1", "calcifer-1w-keys", "added_p50_ms", 0.5,
    ),
    AccessTarget(
        "embedded store, 2 workers, non-stream c=64: ≥ 4,000 req/s",
        "non-stream c=64", "calcifer-2w-keys", "rps", 4000,
    ),
    AccessTarget(
        "PostgreSQL + Redis, non-stream c=1: added p50 over calcifer-1w ≤ 1.0 ms",
        "non-stream c=1", "calcifer-1w-pg-redis", "added_p50_ms", 1.0,
    ),
]  # fmt: skip


def access_targets(measurements: list[Measurement]) -> list[dict[str, Any]]:
    """Per target: the value (median over rounds), the added p50 against direct, and met or not
    (None: the column or its base was not measured)."""
    results = []
    for goal in ACCESS_TARGETS:
        runs = _by_round(measurements, goal.scenario, goal.column)
        if goal.metric == "rps":
            value = statistics.median(m.rps for m in runs.values()) if runs else None
        else:
            value = _paired_median(runs, _by_round(measurements, goal.scenario, BASE))
        met = None if value is None else _meets(goal, value)
        results.append(
            {
                "target": goal.label,
                "column": goal.column,
                "unit": "req/s" if goal.metric == "rps" else "ms",
                "value": value,
                "added_vs_direct_ms": _paired_median(runs, _by_round(measurements, goal.scenario, DIRECT)),
                "met": met,
            }
        )
    return results


def _meets(goal: AccessTarget, value: float) -> bool:
    return value >= goal.limit if goal.metric == "rps" else value <= goal.limit


def _by_round(measurements: list[Measurement], scenario: str, target: str) -> dict[int, Measurement]:
    return {m.round: m for m in measurements if (m.scenario, m.target) == (scenario, target)}


def _paired_median(runs: dict[int, Measurement], bases: dict[int, Measurement]) -> float | None:
    """Median over rounds of the p50 difference within each round (the machine drifts between them)."""
    differences = [run.p50_ms - bases[number].p50_ms for number, run in runs.items() if number in bases]
    return statistics.median(differences) if differences else None


def access_target_lines(results: list[dict[str, Any]]) -> list[str]:
    measured = [r for r in results if r["value"] is not None]
    if not measured:
        return []
    lines = [
        "",
        "Targets for keys, a budget, an rpm limit and the ledger (issue 11, same run; added p50 "
        f"is the median over rounds of the column's p50 minus {BASE}'s in the same round):",
        "",
        "| target | column | measured | added p50 against direct | verdict |",
        "|---|---|---|---|---|",
    ]
    for result in measured:
        value = f"{result['value']:+.2f} ms" if result["unit"] == "ms" else f"{result['value']:,.0f} req/s"
        against = result["added_vs_direct_ms"]
        lines.append(
            f"| {result['target']} | {result['column']} | {value} | "
            f"{'–' if against is None else f'{against:.2f} ms'} | {'met' if result['met'] else 'missed'} |"
        )
    return [*lines, ""]
