"""Issue 10's chaos mix in miniature, in process (`bench/chaos.py` is the real run): one
deployment and no fallback, the provider's settings all defaults, 17% of calls failing at random
(10% rate limited, 5% dropped, 2% unreadable)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from pathlib import Path

import pytest

from calcifer.catalog import load_catalog
from calcifer.domain.breaker import BreakerState
from calcifer.errors import UpstreamError, UpstreamProtocolError, UpstreamRateLimited, UpstreamUnavailable
from calcifer.providers.registry import build_directory
from tests.domain.gateway_rig import FAST_RETRY, Answer, Fail, FakeProvider, build_rig, model

DEFAULTS_ONLY = """\
providers:
  lone: {kind: openai, api_key_env: LONE_KEY, base_url: "http://127.0.0.1:9/v1"}
models:
  m:
    provider: lone
    upstream_model: m
    pricing: {input: 1, output: 1}
"""
REQUESTS = 5000


def chaos_script(rng: random.Random, calls: int) -> list[Answer | Fail]:
    script: list[Answer | Fail] = []
    for _ in range(calls):
        draw = rng.random()
        if draw < 0.10:
            script.append(Fail(UpstreamRateLimited, retry_after=0.0))
        elif draw < 0.15:
            script.append(Fail(UpstreamUnavailable))
        elif draw < 0.17:
            script.append(Fail(UpstreamProtocolError))
        else:
            script.append(Answer())
    return script


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_a_lone_deployment_with_default_settings_serves_the_chaos_mix(stream: bool, tmp_path: Path) -> None:
    (tmp_path / "catalog.yaml").write_text(DEFAULTS_ONLY)
    catalog = load_catalog(tmp_path / "catalog.yaml", {"LONE_KEY": "k"})
    defaults = build_directory(catalog, {}).policy("lone").retry
    # The default number of attempts, with back-offs of milliseconds so the test stays fast.
    retry = replace(FAST_RETRY, attempts=defaults.attempts)
    upstream = FakeProvider("lone", *chaos_script(random.Random(10), REQUESTS * retry.attempts))
    rig = build_rig([model("m", "lone")], upstream, retry=retry, breaker=catalog.providers["lone"].breaker)

    async def scenario() -> int:
        served = 0
        for _ in range(REQUESTS):
            try:
                await rig.ask("m", stream=stream)
                served += 1
            except UpstreamError:
                pass
        return served

    # 0.17 per call: three attempts leave 0.17³ ≈ 0.49% failing, at the 99.5% target's edge
    # (half the runs missed it); four leave 0.17⁴ ≈ 0.08%.
    assert asyncio.run(scenario()) / REQUESTS >= 0.997
    assert rig.breaker("lone") is BreakerState.CLOSED
