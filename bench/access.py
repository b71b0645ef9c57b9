"""Keys, budgets, rate limits and the ledger in the bench: the store behind a column, and its one key.

A keys column runs the shipped config with `CALCIFER_MASTER_KEY` set (so every request needs a
key), its store either the embedded SQLite file in the column's directory or a real PostgreSQL +
Redis started here (from tests/servers). On its first start it issues one key through
`POST /admin/keys`, with a budget and an rpm limit too large to refuse anything, and every
measurement sends that key, so each request is authenticated, admitted against the budget and
the limit, and settled into the ledger.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

MASTER_KEY = "bench-master-key"
KEY_BODY = {
    "name": "bench",
    "budget": {"max_usd": "1000000", "period": "month"},
    "limits": {"rpm": 100_000_000},
}
KEY_SUMMARY = "budget 1,000,000 USD a month, rpm 100,000,000"
# How long a key made on one worker takes to reach the others (access.refresh_seconds is 1 s).
REFRESH_WAIT_SECONDS = 1.5


class _Server(Protocol):
    url: str

    def close(self) -> None: ...


@dataclass
class AccessStore:
    """Where a keys column keeps keys, budgets, counters and the ledger: `embedded` (SQLite in its
    data directory) or `pg-redis` (servers started on the first `env()`, closed by `close()`)."""

    kind: str
    data_dir: Path
    _servers: list[_Server] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        values = {"CALCIFER_MASTER_KEY": MASTER_KEY, "CALCIFER_DATA_DIR": str(self.data_dir)}
        if self.kind == "pg-redis":
            postgres, redis = self._started_servers()
            values |= {"CALCIFER_DATABASE_URL": postgres, "CALCIFER_REDIS_URL": redis}
        return values

    def describe(self) -> str:
        if self.kind == "pg-redis":
            return "CALCIFER_DATABASE_URL a PostgreSQL and CALCIFER_REDIS_URL a Redis, started by the bench"
        return "the embedded SQLite store in the column's CALCIFER_DATA_DIR"

    def _started_servers(self) -> tuple[str, str]:
        if not self._servers:
            # tests/ is the repository's, not the package's: only the PostgreSQL + Redis column needs it
            from tests.servers import start_postgres, start_redis

            self._servers.append(start_postgres())
            self._servers.append(start_redis())
        return self._servers[0].url, self._servers[1].url

    def close(self) -> None:
        while self._servers:
            self._servers.pop().close()


def issue_bench_key(base_url: str, *, workers: int) -> str:
    """One key with a budget and an rpm limit that refuse nothing; waits until every worker knows it."""
    response = httpx.post(
        base_url + "/admin/keys",
        json=KEY_BODY,
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
        timeout=10,
    )
    if response.status_code != 201:
        raise RuntimeError(f"POST /admin/keys answered {response.status_code}: {response.text}")
    if workers > 1:
        time.sleep(REFRESH_WAIT_SECONDS)
    secret = response.json()["key"]
    if not isinstance(secret, str):
        raise RuntimeError(f"POST /admin/keys gave no key: {response.text}")
    return secret
