"""A provider's transport settings: defaults, values, and those a kind cannot honour refused."""

from __future__ import annotations

from pathlib import Path

from calcifer.catalog import load_catalog
from tests.catalog.test_loader import problems_of

PROVIDERS = """\
providers:
  fast:
    kind: openai
    base_url: http://127.0.0.1:9/v1
  library:
    kind: anthropic
    transport: aiohttp
    max_connections: 10
    max_response_bytes: 1048576
    max_event_bytes: 65536
  gemini:
    kind: google
    max_connections: 20
models:
  m:
    provider: fast
    pricing: {input: 1, output: 1}
"""


def test_transport_settings_have_defaults_and_take_the_catalogs_values(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(PROVIDERS)
    providers = load_catalog(tmp_path, {}).providers
    fast, library, gemini = providers["fast"], providers["library"], providers["gemini"]
    assert (fast.transport, fast.max_connections) == ("native", 1000)
    assert (fast.max_response_bytes, fast.max_event_bytes) == (64 * 1024 * 1024, 8 * 1024 * 1024)
    assert (library.transport, library.max_connections) == ("aiohttp", 10)
    assert (library.max_response_bytes, library.max_event_bytes) == (1048576, 65536)
    assert (gemini.transport, gemini.max_connections) == ("aiohttp", 20)  # the SDK's session


def test_settings_a_kind_cannot_honour_are_refused_at_their_line(tmp_path: Path) -> None:
    text = """\
providers:
  gemini:
    kind: google
    transport: native
    max_event_bytes: 65536
  echo:
    kind: echo
    max_connections: 5
"""
    assert problems_of(tmp_path, {"c.yaml": text}) == [
        "c.yaml:4:16: providers.gemini.transport: a google provider always uses the google-genai SDK's "
        "aiohttp session; only 'aiohttp' is accepted here",
        "c.yaml:5:22: providers.gemini.max_event_bytes: not applied to a google provider: "
        "the google-genai SDK reads the stream",
        "c.yaml:8:22: providers.echo.max_connections: an echo provider makes no upstream calls",
    ]


def test_out_of_range_transport_settings_are_located(tmp_path: Path) -> None:
    text = """\
providers:
  p:
    kind: openai
    transport: httpx
    max_connections: 0
    max_response_bytes: 10
"""
    problems = problems_of(tmp_path, {"c.yaml": text})
    assert problems[0].startswith(
        "c.yaml:4:16: providers.p.transport: 'httpx' is not one of: 'native', 'aiohttp'"
    )
    assert problems[1].startswith("c.yaml:5:22: providers.p.max_connections: 0 is less than the minimum of 1")
    assert problems[2].startswith("c.yaml:6:25: providers.p.max_response_bytes: 10 is less than the minimum")
