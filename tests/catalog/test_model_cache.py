"""A model's `cache:` section in the catalog: read into its override of the gateway's policy,
and bad values stop the load with the file, the line and the path."""

from __future__ import annotations

from pathlib import Path

import pytest

from calcifer.catalog import load_catalog
from calcifer.domain.cache_policy import CacheOverride, CachePolicy, CacheScope
from calcifer.errors import CatalogError

CATALOG = """providers:
  echo: {kind: echo}
models:
  echo4:
    provider: echo
    pricing: {input: 50, output: 50}
CACHED
  plain:
    provider: echo
    pricing: {input: 1, output: 1}
"""


def catalog_with(tmp_path: Path, section: str) -> Path:
    file = tmp_path / "catalog.yaml"
    file.write_text(CATALOG.replace("CACHED", section))
    return file


def test_a_models_cache_section_overrides_only_the_fields_it_gives(tmp_path: Path) -> None:
    section = "    cache: {enabled: true, ttl_seconds: 90, scope: team, sampled: true}"
    models = load_catalog(catalog_with(tmp_path, section), {}).models
    override = models["echo4"].cache
    assert override == CacheOverride(enabled=True, ttl_seconds=90.0, scope=CacheScope.TEAM, sampled=True)
    gateway = CachePolicy(enabled=False, ttl_seconds=300, multiple_choices=True)
    assert override.applied_to(gateway) == CachePolicy(True, 90.0, CacheScope.TEAM, True, True)
    assert models["plain"].cache is None  # the gateway's policy, unchanged


def test_a_model_can_turn_caching_off_while_the_gateway_has_it_on(tmp_path: Path) -> None:
    override = load_catalog(catalog_with(tmp_path, "    cache: {enabled: false}"), {}).models["echo4"].cache
    assert override is not None
    assert override.applied_to(CachePolicy(enabled=True, ttl_seconds=60)) == CachePolicy(False, 60)


@pytest.mark.parametrize(
    ("section", "path", "message"),
    [
        ("    cache: {scope: everyone}", "models.echo4.cache.scope", "'everyone' is not one of"),
        ("    cache: {ttl_seconds: 0}", "models.echo4.cache.ttl_seconds", "0"),
        ("    cache: {enabled: yes please}", "models.echo4.cache.enabled", "boolean"),
        ("    cache: {ttl: 60}", "models.echo4.cache.ttl", "unknown key 'ttl'"),
    ],
    ids=["scope", "ttl", "enabled", "unknown-field"],
)
def test_a_bad_cache_value_stops_the_load_at_its_line(
    tmp_path: Path, section: str, path: str, message: str
) -> None:
    file = catalog_with(tmp_path, section)
    with pytest.raises(CatalogError) as caught:
        load_catalog(file, {})
    problems = [str(problem) for problem in caught.value.problems]
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{file}:7:"), problems
    assert f": {path}: " in problems[0] and message in problems[0], problems
