"""`calcifer catalog audit`: the catalog's prices against genai-prices, a maintained price
database published on PyPI whose data ships inside the package (read offline, never fetched).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

from genai_prices import __version__ as database_version
from genai_prices.data_snapshot import get_snapshot
from genai_prices.types import ModelInfo, ModelPrice, Provider, TieredPrices

from calcifer.catalog.loader import catalog_files
from calcifer.catalog.model import Catalog
from calcifer.catalog.yaml_source import read_document
from calcifer.domain.models import ModelSpec
from calcifer.domain.pricing import Price

__all__ = ["AuditReport", "PriceDifference", "audit_catalog", "audit_notes", "database_version"]

THEIR_PROVIDER = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google": "google",
    "mistral": "mistral",
    "deepseek": "deepseek",
    "groq": "groq",
    "together": "together",
    "openrouter": "openrouter",
    "azure-openai": "azure",
}
"""Our provider id → the database's. Providers not here (echo, self-hosted) are not audited."""

_LISTS_MISSING = {"openai", "anthropic", "google", "mistral", "deepseek"}
"""Vendors whose models we would list; resellers (OpenRouter, Together…) sell hundreds each."""
_RESOLD = {"google": ("claude-",)}
"""Models the database lists under a vendor that are another vendor's (Claude on Vertex AI)."""

_BUCKETS = (
    ("input", "input_mtok"),
    ("cached_input", "cache_read_mtok"),
    ("cache_write", "cache_write_mtok"),
    ("cache_write_1h", "cache_write_1h_mtok"),
    ("output", "output_mtok"),
)
"""Our price bucket → the database's key (both USD per 1M tokens)."""


@dataclass(frozen=True, slots=True)
class PriceDifference:
    model: str
    bucket: str
    ours: Decimal | None
    theirs: Decimal | None
    note: str | None = None
    """The model's `audit_note`: the difference is known and explained in the catalog."""

    @property
    def relative(self) -> Decimal | None:
        """|ours - theirs| / theirs; None when one side has no price for the bucket."""
        if self.ours is None or self.theirs is None:
            return None
        if self.theirs == 0:
            return Decimal(0) if self.ours == 0 else None
        return abs(self.ours - self.theirs) / self.theirs

    def above(self, threshold: Decimal) -> bool:
        relative = self.relative
        return relative is None or relative > threshold


@dataclass(slots=True)
class AuditReport:
    on: date
    differences: list[PriceDifference] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)
    """Models both sides know."""
    unknown: list[str] = field(default_factory=list)
    """Our models the database does not know."""
    missing: dict[str, list[str]] = field(default_factory=dict)
    """Per our provider id: the database's models with token prices that no model of ours serves."""

    def failures(self, threshold: Decimal) -> list[PriceDifference]:
        return [d for d in self.differences if d.note is None and d.above(threshold)]


def audit_notes(path: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """Each model's `audit_note`, read from the catalog files as written."""
    notes: dict[str, str] = {}
    for file in catalog_files(path):
        data = read_document(str(file), file.read_text(encoding="utf-8"), environ).data
        models = data.get("models") if isinstance(data, dict) else None
        for name, raw in (models or {}).items():
            if isinstance(raw, dict) and isinstance(raw.get("audit_note"), str):
                notes[str(name)] = raw["audit_note"]
    return notes


def audit_catalog(catalog: Catalog, notes: Mapping[str, str], on: date) -> AuditReport:
    """Compare every audited model's prices with the database's prices in force on `on`."""
    report = AuditReport(on=on)
    providers = {p.id: p for p in get_snapshot().providers}
    moment = datetime.combine(on, time(12), tzinfo=UTC)
    for spec in catalog.models.values():
        for provider_id, upstream in _audited_deployments(spec):
            their_provider = providers.get(THEIR_PROVIDER[provider_id])
            their_model = their_provider.find_model(upstream) if their_provider else None
            if their_model is None:
                report.unknown.append(f"{spec.name} ({provider_id}: {upstream})")
                continue
            report.compared.append(spec.name)
            prices = their_model.get_prices(moment)
            report.differences += _differences(spec.name, spec.price, prices, notes.get(spec.name))
    for provider_id, their_id in THEIR_PROVIDER.items():
        if provider_id in catalog.providers and provider_id in _LISTS_MISSING and their_id in providers:
            report.missing[provider_id] = _missing(catalog, provider_id, providers[their_id])
    return report


def _audited_deployments(spec: ModelSpec) -> Iterable[tuple[str, str]]:
    seen = set()
    for deployment in spec.deployments:
        key = (deployment.provider_id, deployment.upstream_model)
        if deployment.provider_id in THEIR_PROVIDER and key not in seen:
            seen.add(key)
            yield key


def _differences(model: str, ours: Price, theirs: ModelPrice, note: str | None) -> list[PriceDifference]:
    found = []
    for bucket, key in _BUCKETS:
        their_value = getattr(theirs, key)
        if their_value is None:
            continue  # the database does not price this bucket: nothing to compare
        base = their_value.base if isinstance(their_value, TieredPrices) else their_value
        mine = _effective(ours, bucket)
        if mine != base:
            found.append(PriceDifference(model, bucket, mine, base, note))
        if isinstance(their_value, TieredPrices):
            found += _tier_differences(model, bucket, ours, their_value, note)
    return list(dict.fromkeys(found))  # a wrong tier threshold is found once per bucket: say it once


def _tier_differences(
    model: str, bucket: str, ours: Price, theirs: TieredPrices, note: str | None
) -> list[PriceDifference]:
    """A long-context tier: same threshold, same price above it."""
    tier = theirs.tiers[0]
    mine = ours.long_context
    if mine is None:
        return [PriceDifference(model, f"long_context.{bucket}", None, tier.price, note)]
    found = []
    if mine.above_prompt_tokens != tier.start:
        our_start, their_start = Decimal(mine.above_prompt_tokens), Decimal(tier.start)
        found.append(PriceDifference(model, "long_context.above_prompt_tokens", our_start, their_start, note))
    mine_above = _effective(mine.price, bucket)
    if mine_above != tier.price:
        found.append(PriceDifference(model, f"long_context.{bucket}", mine_above, tier.price, note))
    return found


def _effective(price: Price, bucket: str) -> Decimal:
    """What we bill a token of `bucket` at, with the catalog's fallbacks (a cache price
    left out bills as input; a 1-hour write left out bills as a 5-minute one)."""
    return price.bucket(bucket)


def _missing(catalog: Catalog, provider_id: str, theirs: Provider) -> list[str]:
    served = [
        name
        for spec in catalog.models.values()
        for deployment in spec.deployments
        if deployment.provider_id == provider_id
        for name in (deployment.upstream_model, spec.name, *spec.aliases)
    ]
    resold = _RESOLD.get(provider_id, ())
    return sorted(
        model.id
        for model in theirs.models
        if not model.deprecated
        and not model.id.startswith(resold)
        and _priced_per_token(model)
        and not any(model.is_match(n) for n in served)
    )


def _priced_per_token(model: ModelInfo) -> bool:
    prices = model.prices if isinstance(model.prices, ModelPrice) else model.prices[-1].prices
    return prices.input_mtok is not None or prices.output_mtok is not None
