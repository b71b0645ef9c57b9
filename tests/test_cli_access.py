"""`calcifer keys|teams|spend`: operators manage access without HTTP, on the gateway's own store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.gateway_process import ROOT, GatewayProcess

CATALOG = (ROOT / "catalog" / "echo.yaml").read_text()


def calcifer(config: Path, *args: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "calcifer", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_key_made_on_the_command_line_is_served_by_the_gateway_and_its_spend_is_reported(
    tmp_path: Path,
) -> None:
    gateway = GatewayProcess(tmp_path, CATALOG, env={"CALCIFER_MASTER_KEY": "m"}, auth_required=True)
    config = tmp_path / "config.yaml"
    team = calcifer(config, "teams", "create", "--name", "platform", "--budget", "5.00", "--period", "month")
    assert team["budget"]["max_usd"] == "5" and team["budget"]["period"] == "month"
    created = calcifer(config, "keys", "create", "--name", "ci", "--team", team["id"], "--rpm", "100")
    assert created["key"].startswith("ck-") and created["limits"]["rpm"] == 100
    gateway.start()
    try:
        response = httpx.post(
            gateway.url + "/v1/completions",
            json={"model": "echo4", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {created['key']}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        usage = response.json()["usage"]
    finally:
        gateway.stop()  # a graceful stop writes the ledger out
    report = calcifer(config, "spend", "--group-by", "key")
    cost = str(usage["cost"])
    assert report["data"] == [
        {
            "key_id": created["id"],
            "requests": 1,
            "input_tokens": usage["prompt_tokens"],
            "output_tokens": usage["completion_tokens"],
            "cost_usd": cost,
            "cache_hits": 0,
            "saved_usd": "0",
        }
    ]
    listed = calcifer(config, "keys", "list")
    assert [key["id"] for key in listed] == [created["id"]] and "key" not in listed[0]
    assert calcifer(config, "keys", "revoke", created["id"])["status"] == "revoked"
    assert calcifer(config, "teams", "show", team["id"])["budget"]["spend_usd"] == cost


def test_a_bad_value_is_refused_with_the_field_named(tmp_path: Path) -> None:
    GatewayProcess(tmp_path, CATALOG)  # writes the config and catalog
    result = subprocess.run(
        [sys.executable, "-m", "calcifer", "keys", "create", "--name", "x", "--rpm", "0",
         "--config", str(tmp_path / "config.yaml")],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "limits.rpm" in result.stderr


def test_a_key_and_a_team_made_with_no_cache_forbid_the_response_cache(tmp_path: Path) -> None:
    GatewayProcess(tmp_path, CATALOG)  # writes the config and catalog
    config = tmp_path / "config.yaml"
    team = calcifer(config, "teams", "create", "--name", "zero retention", "--no-cache")
    key = calcifer(config, "keys", "create", "--name", "zdr", "--no-cache")
    default = calcifer(config, "keys", "create", "--name", "default")
    assert (team["cache"], key["cache"], default["cache"]) == (False, False, True)
    assert calcifer(config, "keys", "show", key["id"])["cache"] is False
    assert calcifer(config, "teams", "show", team["id"])["cache"] is False
