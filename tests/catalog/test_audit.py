"""`calcifer catalog audit`: the shipped catalog agrees with genai-prices, and a wrong price
fails the audit, through the real command."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from calcifer.catalog import load_catalog
from calcifer.catalog.audit import audit_catalog, audit_notes
from calcifer.cli import main

ROOT = Path(__file__).resolve().parents[2]
ON = date(2026, 12, 1)  # the day the shipped prices were read (prices_as_of)

OPENAI = """\
providers:
  openai:
    kind: openai
    source: https://developers.openai.com/api/docs/pricing
models:
  gpt-5.4-mini:
    provider: openai
{extra}    pricing: {{input: {input}, cached_input: 0.075, output: 4.50}}
"""
ANTHROPIC = """\
providers:
  anthropic:
    kind: anthropic
models:
  claude-haiku-4-5:
    provider: anthropic
    pricing: {input: 1.00, cached_input: 0.10, cache_write: 1.25, output: 5.00}
"""


def shipped_report():  # type: ignore[no-untyped-def]
    path = ROOT / "catalog"
    return audit_catalog(load_catalog(path, {}), audit_notes(path, {}), ON)


def test_shipped_catalog_agrees_with_genai_prices_within_one_percent() -> None:
    report = shipped_report()
    assert report.failures(Decimal("0.01")) == []
    # the check compared something: every first-party chat model of the catalog is known to them
    assert {"gpt-6.1-sol", "claude-sonnet-5-5", "gemini-3.8-flash", "mistral/mistral-medium-3-5"} <= set(
        report.compared
    )
    assert len(set(report.compared)) >= 45


def test_shipped_catalog_prices_one_hour_cache_writes_as_genai_prices_does() -> None:
    # Anthropic bills 1-hour cache writes at 2x input (pricing page, "1h cache writes" column).
    failures = shipped_report().failures(Decimal("0.01"))
    assert [d for d in failures if d.bucket.endswith("cache_write_1h")] == []


def write_catalog(tmp_path: Path, input_price: str, extra: str = "") -> Path:
    """gpt-5.4-mini, listed at $0.75 / $0.075 cached / $4.50 (OpenAI's pricing page)."""
    (tmp_path / "openai.yaml").write_text(OPENAI.format(input=input_price, extra=extra))
    return tmp_path


def test_a_wrong_price_fails_the_audit_and_is_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_catalog(tmp_path, "0.90")
    assert main(["catalog", "audit", str(path), "--on", "2026-12-01"]) == 1
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if "gpt-5.4-mini" in row and " input " in row)
    assert line.split()[-3:] == ["0.9", "0.75", "20.0%"]
    assert "1 differences above 1.0%, 0 explained" in out


def test_a_difference_below_the_threshold_passes_and_a_lower_threshold_catches_it(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, "0.755")  # 0.67% above the list price
    assert main(["catalog", "audit", str(path), "--on", "2026-12-01"]) == 0
    assert main(["catalog", "audit", str(path), "--on", "2026-12-01", "--threshold", "0.005"]) == 1
    exact = write_catalog(tmp_path, "0.75")
    assert main(["catalog", "audit", str(exact), "--threshold", "0", "--on", "2026-12-01"]) == 0


def test_an_audit_note_explains_a_difference_instead_of_failing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    note = "    audit_note: negotiated price\n"
    assert main(["catalog", "audit", str(write_catalog(tmp_path, "0.60", note)), "--on", "2026-12-01"]) == 0
    out = capsys.readouterr().out
    assert "explained: negotiated price" in out
    assert "0 differences above 1.0%" in out


def test_models_the_database_knows_that_we_lack_are_listed_per_provider(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "anthropic.yaml").write_text(ANTHROPIC)
    main(["catalog", "audit", str(tmp_path), "--on", "2026-12-01"])
    lacking = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("anthropic: "))
    assert "claude-sonnet-5-5" in lacking
    assert "claude-haiku-4-5" not in lacking


def test_a_bad_threshold_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["catalog", "audit", str(tmp_path), "--threshold", "lots"])
    assert "not a number" in capsys.readouterr().err


def test_every_replacement_and_lifecycle_date_of_the_shipped_catalog_is_usable() -> None:
    catalog = load_catalog(ROOT / "catalog", {})
    names = {alias for spec in catalog.models.values() for alias in (spec.name, *spec.aliases)}
    import yaml

    for file in sorted((ROOT / "catalog").glob("*.yaml")):
        data = yaml.safe_load(file.read_text())
        for name, raw in data["models"].items():
            if "replacement" in raw:
                assert raw["replacement"] in names, f"{file.name}: {name} names an unknown replacement"
                assert "retires_on" in raw, f"{file.name}: {name} has a replacement but no retirement"
            for field in ("deprecated_on", "retires_on"):
                if field in raw:
                    date.fromisoformat(raw[field])
        for provider_id, provider in data.get("providers", {}).items():
            if provider["kind"] == "echo" or provider_id in {"vllm", "ollama"}:
                continue  # offline or self-hosted: no list price to cite
            assert provider["source"].startswith("https://"), provider_id
        assert data["prices_as_of"] == "2026-12-01" or file.name == "echo.yaml"


def test_a_missing_or_wrong_long_context_tier_fails_the_audit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # gpt-5.4 bills a whole request over 272k input tokens at 2x input and 1.5x output
    # (OpenAI's pricing page, "long context"): a catalog without the tier under-bills it.
    flat = OPENAI.replace("gpt-5.4-mini", "gpt-5.4").format(input="2.50", extra="")
    flat = flat.replace("cached_input: 0.075", "cached_input: 0.25")
    (tmp_path / "openai.yaml").write_text(flat.replace("output: 4.50", "output: 15.00"))
    assert main(["catalog", "audit", str(tmp_path), "--on", "2026-12-01"]) == 1
    rows = [row.split() for row in capsys.readouterr().out.splitlines() if row.startswith("  gpt-5.4 ")]
    assert ["gpt-5.4", "long_context.input", "-", "5", "n/a"] in rows
    assert ["gpt-5.4", "long_context.output", "-", "22.5", "n/a"] in rows

    tier = "long_context: {above_prompt_tokens: 200000, input: 5.00, cached_input: 0.50, output: 22.50}"
    (tmp_path / "openai.yaml").write_text(flat.replace("output: 4.50}", "output: 15.00, " + tier + "}"))
    assert main(["catalog", "audit", str(tmp_path), "--on", "2026-12-01"]) == 1
    rows = [row.split() for row in capsys.readouterr().out.splitlines() if row.startswith("  gpt-5.4 ")]
    assert rows == [["gpt-5.4", "long_context.above_prompt_tokens", "200000", "272000", "26.5%"]]
