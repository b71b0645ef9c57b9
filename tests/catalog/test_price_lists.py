"""The catalog's pricing schema: every bucket, fees, service tiers, long context over every
bucket, dated price lists and a model's lifecycle; mistakes reported as `file:line: path: message`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from calcifer.catalog import load_catalog
from calcifer.domain.price_schedule import PriceSchedule
from calcifer.domain.usage import Usage
from tests.catalog.test_loader import problems_of

M = Decimal(1_000_000)

HEAD = """\
providers:
  anthropic:
    kind: anthropic
models:
"""

SONNET = """\
  claude-sonnet-4-5:
    provider: anthropic
    deprecated_on: 2026-09-29
    retires_on: 2027-01-05
    replacement: claude-sonnet-5
    pricing:
      input: 3.00
      cached_input: 0.30
      cache_write: 3.75
      cache_write_1h: 6.00
      output: 15.00
      per_request: 0.001
      tool_calls: {web_search: 10.00}
      long_context: {above_prompt_tokens: 200000, input: 6.00, cache_write_1h: 12.00, output: 22.50}
      service_tiers:
        priority: {multiplier: 1.8}
        flex: {input: 1.25, output: 5.00}
  claude-sonnet-5:
    provider: anthropic
    pricing:
      - {input: 2.0, output: 8.0}
      - {effective_from: 2026-12-15, input: 1.5, output: 6.0}
"""


def test_every_bucket_fee_and_tier_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(HEAD + SONNET)
    price = load_catalog(tmp_path, {}).models["claude-sonnet-4-5"].price
    usage = Usage(
        input_tokens=1000, cache_write_1h_tokens=2000, output_tokens=100, tool_calls={"web_search": 2}
    )
    tokens = (1000 * 3 + 2000 * 6 + 100 * 15) / M
    assert price.cost(usage) == tokens + 2 * 10 / Decimal(1000) + Decimal("0.001")
    assert price.cost(usage, "priority") == (tokens + Decimal("0.021")) * Decimal("1.8")
    # flex has prices of its own; the buckets it leaves out (1h writes, fees) are the list's
    flex = (1000 * Decimal("1.25") + 2000 * 6 + 100 * 5) / M + Decimal("0.021")
    assert price.cost(usage, "flex") == flex


def test_long_context_covers_every_bucket_and_keeps_the_fees(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(HEAD + SONNET)
    price = load_catalog(tmp_path, {}).models["claude-sonnet-4-5"].price
    usage = Usage(input_tokens=150_000, cache_write_1h_tokens=100_000, output_tokens=10)
    assert price.cost(usage) == (150_000 * 6 + 100_000 * 12 + 10 * Decimal("22.50")) / M + Decimal("0.001")


def test_lifecycle_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(HEAD + SONNET)
    model = load_catalog(tmp_path, {}).models["claude-sonnet-4-5"]
    assert (model.deprecated_on, model.retires_on, model.replacement) == (
        date(2026, 9, 29),
        date(2027, 1, 5),
        "claude-sonnet-5",
    )


@pytest.mark.parametrize(
    ("moment", "expected_input", "version"),
    [
        (datetime(2026, 12, 14, 23, 59, tzinfo=UTC), Decimal("2.0"), "v1"),
        (datetime(2026, 12, 15, 0, 0, tzinfo=UTC), Decimal("1.5"), "v1@2026-12-15"),
        (datetime(2027, 3, 1, tzinfo=UTC), Decimal("1.5"), "v1@2026-12-15"),
    ],
)
def test_dated_lists_price_by_the_request_start(
    tmp_path: Path, moment: datetime, expected_input: Decimal, version: str
) -> None:
    (tmp_path / "a.yaml").write_text(HEAD + SONNET)
    model = load_catalog(tmp_path, {}).models["claude-sonnet-5"]
    price = model.price_at(moment)
    assert price.input == expected_input
    assert PriceSchedule.version("v1", price) == version


@pytest.mark.parametrize(
    ("pricing", "problem"),
    [
        (
            "[{input: 2.0, output: 8.0}, {input: 1.5, output: 6.0}]",
            "a.yaml:7:5: models.m.pricing[1]: every price list but the first needs an effective_from date",
        ),
        (
            "[{effective_from: 2026-12-15, input: 2, output: 8},"
            " {effective_from: 2026-01-01, input: 1, output: 6}]",
            "a.yaml:7:5: models.m.pricing[1].effective_from: must come after the previous list's 2026-12-15",
        ),
        (
            "{input: 1, output: 2, service_tiers: {flex: {multiplier: 0.5, input: 1}}}",
            "a.yaml:7:5: models.m.pricing.service_tiers.flex: "
            "a tier is a multiplier of the list or has prices of its own, not both",
        ),
        (
            "{input: 1, output: 2, tool_calls: {web_search: -1}}",
            "a.yaml:7:5: models.m.pricing.tool_calls.web_search: -1 is less than the minimum of 0",
        ),
        (
            "[{input: 1}]",
            "a.yaml:7:5: models.m.pricing[0]: 'output' is a required key for a chat model",
        ),
    ],
)
def test_price_list_mistakes_name_their_path(tmp_path: Path, pricing: str, problem: str) -> None:
    text = HEAD + f"  m:\n    provider: anthropic\n    pricing: {pricing}\n"
    found = problems_of(tmp_path, {"a.yaml": text})
    assert [p.split(": ", 1)[1] for p in found] == [problem.split(": ", 1)[1]]
    assert found[0].startswith("a.yaml:")


def test_replacement_must_be_a_model_of_the_catalog(tmp_path: Path) -> None:
    text = (
        HEAD + "  m:\n    provider: anthropic\n    replacement: nowhere\n    pricing: {input: 1, output: 2}\n"
    )
    assert problems_of(tmp_path, {"a.yaml": text}) == [
        "a.yaml:7:18: models.m.replacement: unknown model 'nowhere'"
    ]
