"""`responses_api`: which `openai` providers get `/v1/responses` passed through."""

from __future__ import annotations

from pathlib import Path

from calcifer.catalog import load_catalog
from calcifer.domain.dialect import Dialect
from calcifer.providers.openai import OpenAIProvider
from calcifer.transport.registry import Transports
from tests.catalog.test_loader import ROOT, problems_of

PROVIDERS = """\
providers:
  official:
    kind: openai
  azure:
    kind: openai
    base_url: https://example.openai.azure.com
    api_version: "2024-10-21"
  compatible:
    kind: openai
    responses_api: false
models: {}
"""


def test_openai_has_the_responses_api_by_default_azure_and_opted_out_servers_do_not(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(PROVIDERS)
    providers = load_catalog(tmp_path / "c.yaml", {}).providers
    assert {name: p.responses_api for name, p in providers.items()} == {
        "official": True,
        "azure": False,
        "compatible": False,
    }
    transports = Transports()
    dialects = {
        name: OpenAIProvider(p, transports).parameters.native_dialects for name, p in providers.items()
    }
    assert dialects == {"official": {Dialect.OPENAI_RESPONSES}, "azure": set(), "compatible": set()}


def test_responses_api_on_another_kind_is_a_problem(tmp_path: Path) -> None:
    text = "providers:\n  claude:\n    kind: anthropic\n    responses_api: true\nmodels: {}\n"
    assert problems_of(tmp_path, {"a.yaml": text}) == [
        "a.yaml:4:20: providers.claude.responses_api: only an openai provider has it"
    ]


def test_the_shipped_openai_compatible_vendors_are_bridged() -> None:
    providers = load_catalog(ROOT / "catalog", {}).providers
    compatible = [p for p in providers.values() if p.kind == "openai" and p.id != "openai"]
    assert compatible and not any(p.responses_api for p in compatible)
    assert providers["openai"].responses_api
