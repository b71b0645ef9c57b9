"""`calcifer catalog audit`: print where the catalog's prices differ from genai-prices' and
which of its models we lack; exit 1 on an unexplained difference above the threshold.

genai-prices is an optional dependency (`pip install 'calcifer[audit]'`); its data is read
from the installed package. To audit against newer prices: bump its pin in pyproject.toml,
reinstall, rerun.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from calcifer.catalog import load_catalog
from calcifer.settings import environment_snapshot, load_settings

if TYPE_CHECKING:
    from calcifer.catalog.audit import AuditReport, PriceDifference

__all__ = ["add_audit_command", "run_audit"]


def add_audit_command(catalog_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = catalog_commands.add_parser(
        "audit", help="compare the catalog's prices with the genai-prices database (offline)"
    )
    audit.add_argument("path", nargs="?", help="catalog file or directory (default: the config's)")
    audit.add_argument("--config", help="config file naming the catalog")
    audit.add_argument(
        "--threshold",
        type=_fraction,
        default=Decimal("0.01"),
        help="largest relative difference accepted, as a fraction (default 0.01: 1%%)",
    )
    audit.add_argument("--on", type=date.fromisoformat, help="compare with the prices in force on this day")


def run_audit(args: argparse.Namespace) -> int:
    try:
        from calcifer.catalog.audit import audit_catalog, audit_notes, database_version
    except ImportError:
        print("catalog audit needs genai-prices: pip install 'calcifer[audit]'", file=sys.stderr)
        return 2
    if args.path:
        path, environment = Path(args.path), dict(environment_snapshot())
    else:
        settings = load_settings(args.config)
        path, environment = settings.catalog_path, dict(settings.environment)
    catalog = load_catalog(path, environment)
    on = args.on or datetime.now(UTC).date()
    report = audit_catalog(catalog, audit_notes(path, environment), on)
    print(format_report(report, args.threshold, database_version))
    return 1 if report.failures(args.threshold) else 0


def format_report(report: AuditReport, threshold: Decimal, version: str) -> str:
    lines = [
        f"genai-prices {version}, prices in force on {report.on}; threshold {_percent(threshold)}",
        f"{len(set(report.compared))} models compared",
        "",
    ]
    shown = [d for d in report.differences if d.above(threshold)]
    if shown:
        lines.append(f"  {'model':<28} {'bucket':<32} {'ours':>10} {'theirs':>10} {'diff':>8}")
        lines += [_difference_line(d) for d in shown]
        lines.append("")
    if report.unknown:
        lines.append("not in genai-prices: " + ", ".join(report.unknown))
    for provider_id, names in report.missing.items():
        if names:
            lacking = ", ".join(names)
            lines.append(f"{provider_id}: {len(names)} models genai-prices knows that we lack: {lacking}")
    failures = report.failures(threshold)
    explained = len(shown) - len(failures)
    lines.append("")
    above = f"{len(failures)} differences above {_percent(threshold)}"
    lines.append(f"{above}, {explained} explained by an audit_note")
    return "\n".join(lines)


def _difference_line(difference: PriceDifference) -> str:
    ours = "-" if difference.ours is None else f"{difference.ours.normalize():f}"
    theirs = "-" if difference.theirs is None else f"{difference.theirs.normalize():f}"
    relative = difference.relative
    diff = "n/a" if relative is None else _percent(relative)
    line = f"  {difference.model:<28} {difference.bucket:<32} {ours:>10} {theirs:>10} {diff:>8}"
    return line if difference.note is None else f"{line}  explained: {difference.note}"


def _percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).quantize(Decimal('0.1'))}%"


def _fraction(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError("a threshold is a fraction of 0 or more, e.g. 0.01 for 1%")
    return value
