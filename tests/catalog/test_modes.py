"""A model's mode: chat (the default) or embedding, what each asks of the entry's prices, and
fallbacks of the same mode; problems reported at their line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from calcifer.catalog import load_catalog
from calcifer.domain.models import ModelMode
from tests.catalog.test_loader import ROOT, problems_of

CATALOG = """\
providers:
  echo: {kind: echo}
models:
  chatty:
    provider: echo
    pricing: {input: 1, output: 2}
  vectors:
    provider: echo
    mode: embedding
    pricing: {input: 0.02}
"""


def test_modes_are_read_and_an_embedding_model_is_priced_by_input_alone(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(CATALOG)
    models = load_catalog(tmp_path, {}).models
    assert (models["chatty"].mode, models["vectors"].mode) == (ModelMode.CHAT, ModelMode.EMBEDDING)
    assert (models["vectors"].price.input, models["vectors"].price.output) == (Decimal("0.02"), 0)


def test_the_shipped_catalog_has_embedding_models_with_list_prices() -> None:
    models = load_catalog(ROOT / "catalog", {}).models
    prices = {name: model.price.input for name, model in models.items() if model.mode is ModelMode.EMBEDDING}
    assert prices == {
        "echo-embed": Decimal("50.00"),
        "text-embedding-3-small": Decimal("0.02"),
        "text-embedding-3-large": Decimal("0.13"),
        "text-embedding-ada-002": Decimal("0.10"),
        "gemini-embedding-001": Decimal("0.15"),
    }


def test_a_chat_model_without_an_output_price_is_reported(tmp_path: Path) -> None:
    text = CATALOG.replace("{input: 1, output: 2}", "{input: 1}")
    assert problems_of(tmp_path, {"a.yaml": text}) == [
        "a.yaml:6:14: models.chatty.pricing: 'output' is a required key for a chat model"
    ]


def test_an_embedding_model_with_generation_prices_or_limits_is_reported(tmp_path: Path) -> None:
    text = CATALOG.replace("{input: 0.02}", "{input: 0.02, output: 1}\n    max_output_tokens: 10")
    assert problems_of(tmp_path, {"a.yaml": text}) == [
        "a.yaml:10:28: models.vectors.pricing.output: an embedding model is priced by 'input' alone "
        "(USD per 1M input tokens)",
        "a.yaml:11:5: models.vectors.max_output_tokens: an embedding model generates no tokens",
    ]


def test_an_unknown_mode_is_reported(tmp_path: Path) -> None:
    text = CATALOG.replace("mode: embedding", "mode: image")
    assert problems_of(tmp_path, {"a.yaml": text}) == [
        "a.yaml:9:11: models.vectors.mode: 'image' is not one of: 'chat', 'embedding'"
    ]


def test_a_fallback_of_the_other_mode_is_reported(tmp_path: Path) -> None:
    text = CATALOG.replace("    mode: embedding\n", "    mode: embedding\n    fallbacks: [chatty]\n")
    assert problems_of(tmp_path, {"a.yaml": text}) == [
        "a.yaml:10:17: models.vectors.fallbacks[0]: 'chatty' is a chat model; this one is an embedding model"
    ]
