"""The catalog: the shipped one loads, and every kind of mistake is reported at its line."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from calcifer.catalog import load_catalog, schema
from calcifer.errors import CatalogError
from calcifer.providers.registry import ADAPTERS, adapter_class
from tests.fakes.tls import CertificateAuthority

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
providers:
  echo:
    kind: echo
models:
  echo4:
    provider: echo
    pricing: {input: 50, output: 50}
"""


def problems_of(tmp_path: Path, files: dict[str, str], environ: dict[str, str] | None = None) -> list[str]:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path, environ or {})
    return [str(p).replace(str(tmp_path) + "/", "") for p in caught.value.problems]


def test_shipped_catalog_loads_with_exact_decimal_prices() -> None:
    catalog = load_catalog(ROOT / "catalog", {})
    assert {"echo4", "gpt-4", "gpt-4-turbo", "gpt-3.5-turbo", "gpt-4o", "gpt-4.1", "o3", "gpt-5"} <= set(
        catalog.models
    )
    assert catalog.models["gpt-4o-mini"].price.cached_input == Decimal("0.075")
    assert catalog.models["echo4"].price.input == Decimal(50)
    assert catalog.prices_as_of


def test_shipped_openai_provider_takes_endpoint_and_limits_from_the_environment() -> None:
    env = {
        "OPENAI_API_KEY": "sk-very-secret-1",
        "OPENAI_BASE_URL": "http://10.0.0.1:9/v1",
        "OPENAI_TIMEOUT": "12.5",
        "OPENAI_MAX_RETRIES": "0",
    }
    provider = load_catalog(ROOT / "catalog", env).providers["openai"]
    assert (provider.base_url, provider.timeout, provider.max_retries) == ("http://10.0.0.1:9/v1", 12.5, 0)
    assert provider.api_key is not None and provider.api_key.reveal() == "sk-very-secret-1"
    assert "sk-very-secret-1" not in repr(provider)
    default = load_catalog(ROOT / "catalog", {}).providers["openai"]
    assert default.base_url == "https://api.openai.com/v1" and default.api_key is None


def test_single_file_catalog_works(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(GOOD)
    assert list(load_catalog(tmp_path / "one.yaml", {}).models) == ["echo4"]


def test_unknown_key_is_reported_at_its_line(tmp_path: Path) -> None:
    text = GOOD.replace("    provider: echo\n", "    provider: echo\n    pricee: 3\n")
    assert problems_of(tmp_path, {"a.yaml": text}) == [
        "a.yaml:7:5: models.echo4.pricee: unknown key 'pricee'"
    ]


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    text = GOOD + "  echo4:\n    provider: echo\n    pricing: {input: 1, output: 1}\n"
    assert problems_of(tmp_path, {"a.yaml": text}) == [
        "a.yaml:8:3: models.echo4: duplicate key 'echo4' (first defined on line 5)"
    ]


def test_wrong_type_names_the_path(tmp_path: Path) -> None:
    text = GOOD.replace("{input: 50, output: 50}", "{input: cheap, output: 50}")
    assert problems_of(tmp_path, {"a.yaml": text}) == [
        "a.yaml:7:22: models.echo4.pricing.input: 'cheap' is not of type 'number'"
    ]


def test_missing_required_key_and_bad_kind_are_both_reported(tmp_path: Path) -> None:
    text = GOOD.replace("kind: echo", "kind: magic").replace("    pricing: {input: 50, output: 50}\n", "")
    problems = problems_of(tmp_path, {"a.yaml": text})
    assert len(problems) == 2
    assert problems[0].startswith("a.yaml:3:11: providers.echo.kind: 'magic' is not one of")
    assert problems[1] == "a.yaml:6:5: models.echo4: 'pricing' is a required key"


def test_model_naming_an_undeclared_provider(tmp_path: Path) -> None:
    text = GOOD.replace("    provider: echo\n", "    provider: ghost\n")
    assert problems_of(tmp_path, {"a.yaml": text}) == [
        "a.yaml:6:15: models.echo4.provider: unknown provider 'ghost' (declared: echo)"
    ]


def test_same_model_name_or_alias_in_two_files(tmp_path: Path) -> None:
    other = "models:\n  echo4:\n    provider: echo\n    pricing: {input: 1, output: 1}\n"
    alias = (
        "models:\n  other:\n    provider: echo\n    aliases: [echo4]\n    pricing: {input: 1, output: 1}\n"
    )
    problems = problems_of(tmp_path, {"a.yaml": GOOD, "b.yaml": other, "c.yaml": alias})
    assert problems == [
        "b.yaml:2:3: models.echo4: 'echo4' is already used by model 'echo4' (a.yaml)",
        "c.yaml:4:15: models.other.aliases[0]: 'echo4' is already used by model 'echo4' (a.yaml)",
    ]


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {"a.yaml": "models: [unclosed\n"})
    assert problems[0].startswith("a.yaml:2:1: (yaml):")


def test_unset_variable_without_default_is_reported(tmp_path: Path) -> None:
    text = GOOD.replace("    kind: echo\n", "    kind: echo\n    base_url: ${NOPE_URL}\n")
    assert problems_of(tmp_path, {"a.yaml": text}) == [
        "a.yaml:4:15: providers.echo.base_url: environment variable NOPE_URL is not set and has no default"
    ]


def test_schema_lists_exactly_the_provider_kinds_that_have_adapters() -> None:
    kinds = schema()["$defs"]["provider"]["properties"]["kind"]["enum"]
    assert sorted(kinds) == sorted(ADAPTERS)


def test_catalog_check_command_prints_problems_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(GOOD.replace("kind: echo", "kind: echo\n    colour: red"))
    result = subprocess.run(
        [sys.executable, "-m", "calcifer", "catalog", "check", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert f"{tmp_path}/bad.yaml:4:5: providers.echo.colour: unknown key 'colour'" in result.stderr


def test_catalog_check_command_summarizes_a_good_catalog() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "calcifer", "catalog", "check", str(ROOT / "catalog")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "gpt-4o-mini" in result.stdout and "0.075" in result.stdout


def test_every_provider_kind_resolves_to_an_adapter_class() -> None:
    for kind in ADAPTERS:
        assert callable(adapter_class(kind))


def test_a_providers_proxy_is_kept_secret_and_a_bad_one_is_located_without_repeating_it(
    tmp_path: Path,
) -> None:
    with_proxy = GOOD.replace("    kind: echo\n", "    kind: echo\n    proxy: ${EGRESS:-}\n")
    (tmp_path / "ok.yaml").write_text(with_proxy)
    proxied = load_catalog(tmp_path, {"EGRESS": "http://ops:pa55@proxy.internal:3128"}).providers["echo"]
    assert proxied.proxy is not None and proxied.proxy.password is not None
    address = (proxied.proxy.host, proxied.proxy.port, proxied.proxy.user, proxied.proxy.password.reveal())
    assert address == ("proxy.internal", 3128, "ops", "pa55")
    assert "pa55" not in repr(proxied)
    assert load_catalog(tmp_path, {}).providers["echo"].proxy is None  # empty: no proxy
    (tmp_path / "ok.yaml").unlink()
    problems = problems_of(tmp_path, {"bad.yaml": with_proxy}, {"EGRESS": "socks5://ops:pa55@proxy:1080"})
    assert problems == [
        "bad.yaml:4:12: providers.echo.proxy: a proxy is an http://[user:password@]host:port URL"
    ]


def test_a_ca_bundle_is_found_beside_its_catalog_file_and_checked_to_hold_certificates(
    tmp_path: Path,
) -> None:
    with_bundle = GOOD.replace("    kind: echo\n", "    kind: echo\n    ca_bundle: certs/internal.pem\n")
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "internal.pem").write_text("not a certificate\n")
    problems = problems_of(tmp_path, {"a.yaml": with_bundle})
    assert len(problems) == 1 and problems[0].startswith(
        "a.yaml:4:16: providers.echo.ca_bundle: no certificates read"
    )
    (tmp_path / "certs" / "internal.pem").unlink()
    problems = problems_of(tmp_path, {"a.yaml": with_bundle})
    assert problems[0].startswith("a.yaml:4:16: providers.echo.ca_bundle: no certificates read from")
    CertificateAuthority(tmp_path).write_pem(tmp_path / "certs" / "internal.pem")
    provider = load_catalog(tmp_path, {}).providers["echo"]
    assert provider.ca_bundle == tmp_path / "certs" / "internal.pem"


def test_a_problem_with_an_environment_value_names_the_variable_never_its_value(tmp_path: Path) -> None:
    text = GOOD.replace("    kind: echo\n", "    kind: echo\n    timeout: ${OPENAI_API_KEY}\n")
    text += "  other:\n    provider: echo\n    aliases: ['${ALIAS}', '${ALIAS}']\n"
    text += "    pricing: {input: 1, output: 1}\n"
    secret = "sk-live-0123456789abcdef"
    problems = problems_of(tmp_path, {"a.yaml": text}, {"OPENAI_API_KEY": secret, "ALIAS": "sk-alias-secret"})
    assert problems, "the catalog has mistakes"
    assert not [p for p in problems if secret in p or "sk-alias-secret" in p], problems
    assert any("${OPENAI_API_KEY}" in p and "providers.echo.timeout" in p for p in problems), problems


TWO_MODELS = """\
providers:
  echo:
    kind: echo
    tiemout: 5
models:
  echo4:
    provider: ghost
    pricing: {input: 50, output: 50}
  echo5:
    provider: echo
    pricing: {input: -1.00, output: 50}
    fallbacks: [nowhere]
"""


def test_every_problem_is_reported_in_one_pass(tmp_path: Path) -> None:
    """A key typo must not hide a reference to an undeclared provider, nor a bad price a bad
    fallback: the user fixes the catalog once, not once per problem."""
    assert problems_of(tmp_path, {"a.yaml": TWO_MODELS}) == [
        "a.yaml:4:5: providers.echo.tiemout: unknown key 'tiemout'",
        "a.yaml:7:15: models.echo4.provider: unknown provider 'ghost' (declared: echo)",
        "a.yaml:11:22: models.echo5.pricing.input: -1.00 is less than the minimum of 0",
        "a.yaml:12:17: models.echo5.fallbacks[0]: unknown model 'nowhere'",
    ]


def test_a_broken_entry_still_answers_to_its_name(tmp_path: Path) -> None:
    """A provider or model with a problem of its own is still declared: what refers to it is
    not reported as well."""
    text = TWO_MODELS.replace("provider: ghost", "provider: echo").replace("[nowhere]", "[echo4]")
    text = text.replace("{input: 50, output: 50}", "{input: 50, output: 50, colour: red}")
    assert problems_of(tmp_path, {"a.yaml": text}) == [
        "a.yaml:4:5: providers.echo.tiemout: unknown key 'tiemout'",
        "a.yaml:8:38: models.echo4.pricing.colour: unknown key 'colour'",
        "a.yaml:11:22: models.echo5.pricing.input: -1.00 is less than the minimum of 0",
    ]


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("pricing: {input: [1], output: 50}", "models.echo4.pricing.input: a list is not of type 'number'"),
        (
            "pricing: {input: {a: 1}, output: 50}",
            "models.echo4.pricing.input: a mapping is not of type 'number'",
        ),
        (
            "pricing: {input: 1, output: 50, long_context: 3}",
            "models.echo4.pricing.long_context: 3 is not of type 'object'",
        ),
        (
            "pricing: {input: 1, output: 50}\n    weight_x: true",
            "models.echo4.weight_x: unknown key 'weight_x'",
        ),
    ],
)
def test_problems_never_show_python_reprs(tmp_path: Path, fragment: str, expected: str) -> None:
    text = GOOD.replace("pricing: {input: 50, output: 50}", fragment)
    problems = problems_of(tmp_path, {"a.yaml": text})
    assert [p.split(": ", 1)[1] for p in problems] == [expected]
    assert not any(marker in p for p in problems for marker in ("Decimal(", "{'", "['"))


def test_a_model_with_a_bad_price_still_has_its_provider_checked(tmp_path: Path) -> None:
    text = GOOD.replace("provider: echo", "provider: ghost").replace("input: 50", "input: -1")
    assert problems_of(tmp_path, {"a.yaml": text}) == [
        "a.yaml:6:15: models.echo4.provider: unknown provider 'ghost' (declared: echo)",
        "a.yaml:7:22: models.echo4.pricing.input: -1 is less than the minimum of 0",
    ]
