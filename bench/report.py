"""Medians over rounds, the floor comparison, the targets block and the log line's cost, as markdown."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.access_report import access_target_lines
from bench.load import SCENARIOS, Measurement

FLOOR = "floor"
DIRECT = "direct"
# The one-worker columns the floor targets are checked for: the shipped set-up, and the same on aiohttp.
CHECKED = ["calcifer-1w", "calcifer-1w-aiohttp"]
LOG_LINE_PAIR = ("calcifer-1w", "calcifer-1w-warning")  # the same set-up at the shipped level and at WARNING
LOG_LINE_LIMIT_MS = 0.05


@dataclass(frozen=True)
class FloorTarget:
    label: str
    scenario: str
    metric: str  # "added_p50_ms" (at most `limit` × the floor's) or "rps" (at least `limit` × the floor's)
    limit: float


FLOOR_TARGETS = [
    FloorTarget("non-stream c=1: added p50 ≤ 1.5× the floor's", "non-stream c=1", "added_p50_ms", 1.5),
    FloorTarget("non-stream c=64: req/s ≥ 80% of the floor's", "non-stream c=64", "rps", 0.8),
    FloorTarget(
        "50-chunk stream c=1: added total ≤ 1.2× the floor's", "50-chunk stream c=1", "added_p50_ms", 1.2
    ),
]


@dataclass
class Report:
    rows: list[dict[str, Any]]
    boots: dict[str, list[float]] = field(default_factory=dict)
    idle: dict[str, float] = field(default_factory=dict)
    setups: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    log_line: dict[str, dict[str, float | None]] = field(default_factory=dict)
    access: list[dict[str, Any]] = field(default_factory=list)  # bench.access_report.access_targets


# --- numbers --------------------------------------------------------------------------------


def summarize(measurements: list[Measurement], order: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per (scenario, target): medians over rounds; added latency against the same round's direct."""
    order = order or [DIRECT, FLOOR]
    scenario_names = [s.name for s in SCENARIOS]
    keys = sorted(
        {(m.scenario, m.target) for m in measurements},
        key=lambda k: (scenario_names.index(k[0]), _rank(k[1], order), k[1]),
    )
    rows = [_row(measurements, scenario, target) for scenario, target in keys]
    for row in rows:
        compared = row["target"] not in (DIRECT, FLOOR)
        row["added_vs_floor"] = _paired_ratio(measurements, row, _added) if compared else None
        row["rps_vs_floor"] = _paired_ratio(measurements, row, _rps) if compared else None
    return rows


def _added(run: Measurement, direct: Measurement) -> float:
    return run.p50_ms - direct.p50_ms


def _rps(run: Measurement, direct: Measurement) -> float:
    return run.rps


def _paired_ratio(
    measurements: list[Measurement], row: dict[str, Any], metric: Callable[[Measurement, Measurement], float]
) -> float | None:
    """The median over rounds of this column's `metric` over the floor's in the same round.

    The machine's speed drifts between rounds (the same column moves by a third here), and the
    columns of a round run back to back: comparing within each round, then taking the median,
    keeps that drift out of the ratio, where a ratio of the two columns' medians would not."""
    scenario = row["scenario"]

    def by_round(target: str) -> dict[int, Measurement]:
        return {m.round: m for m in measurements if (m.scenario, m.target) == (scenario, target)}

    runs, floors, directs = by_round(row["target"]), by_round(FLOOR), by_round(DIRECT)
    ratios = []
    for number, run in runs.items():
        if number in floors and number in directs:
            direct = directs[number]
            ratio = _ratio(metric(run, direct), metric(floors[number], direct))
            if ratio is not None:
                ratios.append(ratio)
    return statistics.median(ratios) if ratios else None


def _rank(target: str, order: list[str]) -> int:
    return order.index(target) if target in order else len(order)


def _row(measurements: list[Measurement], scenario: str, target: str) -> dict[str, Any]:
    runs = [m for m in measurements if (m.scenario, m.target) == (scenario, target)]
    direct = {m.round: m for m in measurements if (m.scenario, m.target) == (scenario, DIRECT)}
    added = [m.p50_ms - direct[m.round].p50_ms for m in runs if m.round in direct]
    added_ttfb = [
        m.ttfb_p50_ms - d.ttfb_p50_ms
        for m in runs
        if (d := direct.get(m.round)) is not None and m.ttfb_p50_ms is not None and d.ttfb_p50_ms is not None
    ]
    relative = target != DIRECT
    return {
        "scenario": scenario,
        "target": target,
        "rps": _median(runs, "rps"),
        "p50_ms": _median(runs, "p50_ms"),
        "p99_ms": _median(runs, "p99_ms"),
        "ttfb_p50_ms": _median(runs, "ttfb_p50_ms"),
        "added_p50_ms": statistics.median(added) if relative and added else None,
        "added_ttfb_ms": statistics.median(added_ttfb) if relative and added_ttfb else None,
        "cpu_ms_per_request": _median(runs, "cpu_ms_per_request"),
        "rss_mb": _median(runs, "rss_mb"),
        "rss_peak_mb": _median(runs, "rss_peak_mb"),
        "errors": sum(m.errors for m in runs),
        "requests": sum(m.requests for m in runs),
    }


def _median(items: list[Measurement], attr: str) -> float | None:
    values = [getattr(m, attr) for m in items if getattr(m, attr) is not None]
    return statistics.median(values) if values else None


def _ratio(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or base <= 0:
        return None
    return value / base


def log_line_cost(measurements: list[Measurement]) -> dict[str, dict[str, float | None]]:
    """Per scenario, what the shipped level costs over WARNING: p50 and CPU per request, median of
    the same rounds' differences (the two columns run back to back within each round)."""
    info, warning = LOG_LINE_PAIR
    costs: dict[str, dict[str, float | None]] = {}
    for scenario in dict.fromkeys(m.scenario for m in measurements if m.target == warning):
        quiet = {m.round: m for m in measurements if (m.scenario, m.target) == (scenario, warning)}
        loud = [m for m in measurements if (m.scenario, m.target) == (scenario, info) and m.round in quiet]
        p50 = [m.p50_ms - quiet[m.round].p50_ms for m in loud]
        cpu = [
            m.cpu_ms_per_request - q.cpu_ms_per_request
            for m in loud
            if (q := quiet[m.round]).cpu_ms_per_request is not None and m.cpu_ms_per_request is not None
        ]
        if p50:
            costs[scenario] = {
                "p50_ms": statistics.median(p50),
                "cpu_ms_per_request": statistics.median(cpu) if cpu else None,
            }
    return costs


def check_targets(report: Report) -> list[dict[str, Any]]:
    """The targets block as data: per target, the floor's value and each checked column's."""
    rows = {(r["scenario"], r["target"]): r for r in report.rows}
    checked = [name for name in CHECKED if any(r["target"] == name for r in report.rows)]
    results = []
    for goal in FLOOR_TARGETS:
        floor = rows.get((goal.scenario, FLOOR), {}).get(goal.metric)
        unit = "req/s" if goal.metric == "rps" else "ms"
        entry: dict[str, Any] = {"target": goal.label, "unit": unit, "floor": floor, "columns": {}}
        ratio_of = "rps_vs_floor" if goal.metric == "rps" else "added_vs_floor"
        for name in checked:
            row = rows.get((goal.scenario, name), {})
            value, ratio = row.get(goal.metric), row.get(ratio_of)
            met = (
                None
                if ratio is None
                else (ratio >= goal.limit if goal.metric == "rps" else ratio <= goal.limit)
            )
            entry["columns"][name] = {"value": value, "ratio": ratio, "met": met}
        results.append(entry)
    line = report.log_line.get("non-stream c=1", {}).get("p50_ms")
    if line is not None:
        results.append(
            {
                "target": f"request log line ≤ {LOG_LINE_LIMIT_MS} ms (non-stream c=1 p50, "
                f"{LOG_LINE_PAIR[0]} − {LOG_LINE_PAIR[1]})",
                "unit": "ms",
                "floor": None,
                "columns": {
                    LOG_LINE_PAIR[0]: {"value": line, "ratio": None, "met": line <= LOG_LINE_LIMIT_MS}
                },
            }
        )
    return results


# --- markdown -----------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def render(report: Report) -> str:
    lines = [*_setup_lines(report), "", *_table(report.rows), ""]
    for name, values in report.boots.items():
        lines.append(
            f"- {name}: boot to first healthy response {statistics.median(values):.2f} s "
            f"(median of {len(values)}); idle RSS per worker {report.idle.get(name, 0):.0f} MB"
        )
    lines += ["", *_log_line_lines(report), *_targets_lines(report), *access_target_lines(report.access)]
    return "\n".join(lines).rstrip() + "\n"


def _setup_lines(report: Report) -> list[str]:
    notes = [f"- {note}" for note in report.notes]
    return notes + [f"- {name}: {setup}" for name, setup in report.setups.items()]


def _table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| scenario | target | req/s | p50 ms | p99 ms | TTFB p50 ms | added p50 ms | added TTFB ms "
        "| added ÷ floor's | req/s ÷ floor's | CPU ms/req | RSS MB (peak) | errors |",
        "|" + "---|" * 13,
    ]
    for r in rows:
        rss = "–" if r["rss_mb"] is None else f"{r['rss_mb']:.0f} ({r['rss_peak_mb'] or 0:.0f})"
        vs_floor = "–" if r.get("added_vs_floor") is None else f"{r['added_vs_floor']:.2f}×"
        share = "–" if r.get("rps_vs_floor") is None else f"{r['rps_vs_floor']:.0%}"
        lines.append(
            f"| {r['scenario']} | {r['target']} | {fmt(r['rps'], 0)} | {fmt(r['p50_ms'])} | "
            f"{fmt(r['p99_ms'])} | {fmt(r['ttfb_p50_ms'])} | {fmt(r['added_p50_ms'])} | "
            f"{fmt(r['added_ttfb_ms'])} | {vs_floor} | {share} | {fmt(r['cpu_ms_per_request'], 3)} | "
            f"{rss} | {r['errors']} |"
        )
    return lines


def _log_line_lines(report: Report) -> list[str]:
    if not report.log_line:
        return []
    lines = [f"Request log line ({LOG_LINE_PAIR[0]} minus {LOG_LINE_PAIR[1]}, same rounds, median):"]
    for scenario, cost in report.log_line.items():
        lines.append(
            f"- {scenario}: p50 {_signed(cost['p50_ms'])} ms, "
            f"CPU {_signed(cost['cpu_ms_per_request'], 3)} ms per request"
        )
    return [*lines, ""]


def _signed(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:+.{digits}f}"


def _targets_lines(report: Report) -> list[str]:
    results = check_targets(report)
    columns = [name for name in CHECKED if any(name in r["columns"] for r in results)]
    if not results or not columns:
        return []
    header = ["target", "floor", *(cell for name in columns for cell in (name, ""))]
    lines = [
        "Targets (against the floor, same run):",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for result in results:
        floor = _quantity(result["floor"], result["unit"])
        cells = [result["target"], floor]
        for name in columns:
            cells += _target_cells(result["columns"].get(name), result["unit"])
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *_rss_lines(report, columns)]
    return lines


def _quantity(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    return f"{value:.2f} ms" if unit == "ms" else f"{value:,.0f} {unit}"


def _target_cells(column: dict[str, Any] | None, unit: str) -> list[str]:
    if column is None:
        return ["–", ""]
    if column["value"] is None:
        return ["–", "not measured"]
    value = _quantity(column["value"], unit)
    ratio = column["ratio"]
    if ratio is not None:
        value += f" ({ratio:.2f}×)" if unit == "ms" else f" ({ratio:.0%})"
    verdict = "–" if column["met"] is None else ("met" if column["met"] else "missed")
    return [value, verdict]


def _rss_lines(report: Report, columns: list[str]) -> list[str]:
    lines = []
    for name in [FLOOR, *columns]:
        peaks = [r["rss_peak_mb"] for r in report.rows if r["target"] == name and r["rss_peak_mb"]]
        if name in report.idle or peaks:
            peak = f"{max(peaks):.0f} MB" if peaks else "–"
            lines.append(
                f"- RSS per worker, {name}: idle {fmt(report.idle.get(name), 0)} MB, "
                f"peak {peak} over the scenarios run"
            )
    return lines
