"""What the response cache's e2e modules share: a gateway on the backend a test is
parametrised with (`local`: in process, one worker; `redis`: two workers sharing Redis)."""

from __future__ import annotations

import pytest

from tests.conftest import UPSTREAM_KEY
from tests.e2e.access_setup import MASTER
from tests.gateway_process import GatewayProcess


def cache_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, catalog: str, config: str
) -> GatewayProcess:
    """A started gateway with virtual keys required; its providers read the upstream key from KEY."""
    env = {"KEY": UPSTREAM_KEY, "CALCIFER_MASTER_KEY": MASTER}
    workers = 1  # the in-process cache is per worker: one, so that every request meets it
    if request.param == "redis":
        env["CALCIFER_REDIS_URL"] = request.getfixturevalue("redis_url")
        workers = 2
    workdir = tmp_path_factory.mktemp(f"cache-{request.param}")
    return GatewayProcess(
        workdir, catalog, env=env, workers=workers, config_extra=config, auth_required=True
    ).start()
