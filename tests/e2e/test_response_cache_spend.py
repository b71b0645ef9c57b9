"""What a cache hit weighs on a key's budget: by default only what it is billed (nothing), and
with `cache.hits_count_as_spend` the original answer's whole cost, though it is billed nothing."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import openai
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.e2e.access_setup import MASTER, admin, new_key
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway_process import GatewayProcess


def settled_spend(gateway: GatewayProcess, key_id: str) -> Decimal:
    deadline = time.monotonic() + 5
    while True:  # settlement runs just after each answer is sent
        budget = admin(gateway, "GET", f"/admin/keys/{key_id}").json()["budget"]
        if budget["reserved_usd"] == "0" or time.monotonic() > deadline:
            return Decimal(budget["spend_usd"])
        time.sleep(0.05)


@pytest.mark.parametrize("hits_count_as_spend", [False, True])
def test_a_hit_counts_against_the_budget_only_when_configured(
    tmp_path: Path, fake_openai: FakeOpenAI, hits_count_as_spend: bool
) -> None:
    catalog = f"""
providers:
  openai: {{kind: openai, api_key_env: KEY, base_url: "{fake_openai.base_url}", max_retries: 0}}
models:
  gpt-4o: {{provider: openai, pricing: {{input: 2.5, output: 10}}}}
"""
    config = f"cache:\n  enabled: true\n  hits_count_as_spend: {str(hits_count_as_spend).lower()}\n"
    env = {"KEY": UPSTREAM_KEY, "CALCIFER_MASTER_KEY": MASTER}
    gateway = GatewayProcess(tmp_path, catalog, env=env, config_extra=config, auth_required=True).start()
    try:
        created = new_key(gateway, budget={"max_usd": "5"})
        client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=created["key"], max_retries=0)
        costs = []
        for expected in ("miss", "hit"):
            answer = client.chat.completions.with_raw_response.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}], temperature=0
            )
            assert answer.headers["x-calcifer-cache"] == expected
            costs.append(Decimal(answer.headers["x-calcifer-cost"]))
            time.sleep(0.1)
        full, billed = costs
        assert full > 0 and billed == 0  # a hit is billed nothing either way
        assert settled_spend(gateway, created["id"]) == (2 * full if hits_count_as_spend else full)
    finally:
        gateway.stop()
