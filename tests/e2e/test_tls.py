"""HTTPS to providers: certificates checked, a provider's own `ca_bundle` trusted, every adapter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.server import BackgroundServer
from tests.fakes.tls import CertificateAuthority
from tests.fakes.upstream import FakeUpstream
from tests.gateway_process import GatewayProcess


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls")


@pytest.fixture(scope="module")
def https_fakes(workdir: Path) -> Iterator[dict[str, FakeUpstream]]:
    authority = CertificateAuthority(workdir)
    authority.write_pem(workdir / "internal-ca.pem")
    fakes: dict[str, FakeUpstream] = {
        "openai": FakeOpenAI(),
        "anthropic": FakeAnthropic(),
        "google": FakeGemini(),
    }
    for fake in fakes.values():
        fake.server = BackgroundServer(fake.app, tls=authority.server_context("localhost"))
        fake.server.start()
    yield fakes
    for fake in fakes.values():
        fake.server.stop()


@pytest.fixture(scope="module")
def gateway(workdir: Path, https_fakes: dict[str, FakeUpstream]) -> Iterator[GatewayProcess]:
    openai, anthropic, google = (https_fakes[k].base_url for k in ("openai", "anthropic", "google"))
    catalog = f"""
providers:
  openai: {{kind: openai, api_key_env: KEY, base_url: "{openai}", ca_bundle: internal-ca.pem}}
  anthropic: {{kind: anthropic, api_key_env: KEY, base_url: "{anthropic}", ca_bundle: internal-ca.pem}}
  google: {{kind: google, api_key_env: KEY, base_url: "{google}", ca_bundle: internal-ca.pem}}
  untrusting: {{kind: openai, api_key_env: KEY, base_url: "{openai}", max_retries: 0}}
models:
  gpt-4o: {{provider: openai, pricing: {{input: 1, output: 1}}}}
  claude-test: {{provider: anthropic, upstream_model: claude-sonnet-4-5, pricing: {{input: 1, output: 1}}}}
  gemini-test: {{provider: google, upstream_model: gemini-2.5-flash, pricing: {{input: 1, output: 1}}}}
  unchecked: {{provider: untrusting, upstream_model: gpt-4o, pricing: {{input: 1, output: 1}}}}
"""
    process = GatewayProcess(workdir, catalog, env={"KEY": "upstream-key"}).start()
    yield process
    process.stop()


def chat(gateway: GatewayProcess, model: str, stream: bool) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=10)


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("model", ["gpt-4o", "claude-test", "gemini-test"])
def test_every_adapter_speaks_https_to_a_provider_its_ca_bundle_vouches_for(
    gateway: GatewayProcess, model: str, stream: bool
) -> None:
    response = chat(gateway, model, stream)
    assert response.status_code == 200, response.text
    assert ("data: [DONE]" if stream else "Hello from the fake upstream") in response.text


def test_a_certificate_no_trusted_authority_signed_is_refused(gateway: GatewayProcess) -> None:
    response = chat(gateway, "unchecked", stream=False)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert "CERTIFICATE_VERIFY_FAILED" in gateway.log()  # the operator learns why; the client does not
