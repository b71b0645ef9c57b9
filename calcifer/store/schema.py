"""The database schema as numbered migrations, one list for SQLite and PostgreSQL.

A migration's SQL is written once; `{money}`, `{time}`, `{bigint}` and `{flag}` stand for the
types that differ between the two dialects (see `DIALECT_TYPES`). Money on SQLite is kept twice:
the exact decimal text, and an INTEGER count of `PICO_PER_USD` units that SQL can sum exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DIALECT_TYPES", "MIGRATIONS", "PICO_DIGITS", "PICO_PER_USD", "Dialect", "Migration"]

Dialect = Literal["sqlite", "postgresql"]

PICO_DIGITS = 12
PICO_PER_USD = 10**PICO_DIGITS
"""SQLite sums money as integers of 1e-12 USD: exact for every catalog price with up to six
decimals per million tokens, and for totals up to about $9.2 million per query."""

DIALECT_TYPES: dict[Dialect, dict[str, str]] = {
    # SQLite: times are INTEGER microseconds since the epoch (UTC), money TEXT plus pico INTEGER.
    "sqlite": {"money": "TEXT", "time": "INTEGER", "bigint": "INTEGER", "flag": "INTEGER",
               "pico": ", {name}_pico INTEGER NOT NULL DEFAULT 0", "with_cost": ", cost_pico)"},
    "postgresql": {"money": "NUMERIC", "time": "TIMESTAMPTZ", "bigint": "BIGINT", "flag": "BOOLEAN",
                   "pico": "", "with_cost": ") INCLUDE (cost_usd)"},
}


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]
    sqlite_only: tuple[str, ...] = ()
    """Run after `statements` on SQLite alone: its integer twins of money columns."""

    def sql(self, dialect: Dialect) -> list[str]:
        types = DIALECT_TYPES[dialect]
        extra = self.sqlite_only if dialect == "sqlite" else ()
        return [_render(statement, types) for statement in (*self.statements, *extra)]


def _render(statement: str, types: dict[str, str]) -> str:
    # `{pico:cost}` adds the integer twin of a money column on SQLite only.
    rendered = statement
    while "{pico:" in rendered:
        start = rendered.index("{pico:")
        end = rendered.index("}", start)
        name = rendered[start + len("{pico:") : end]
        rendered = rendered[:start] + types["pico"].format(name=name) + rendered[end + 1 :]
    return rendered.format(**{k: v for k, v in types.items() if k != "pico"})


_ACCESS = Migration(
    1,
    "keys, teams and the store revision",
    (
        """CREATE TABLE store_revision (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            revision {bigint} NOT NULL)""",
        "INSERT INTO store_revision (id, revision) VALUES (1, 0)",
        """CREATE TABLE teams (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            budget_usd {money}, budget_period TEXT,
            rpm INTEGER, tpm INTEGER, max_parallel INTEGER,
            metadata TEXT NOT NULL DEFAULT '{{}}',
            created_at {time},
            revision {bigint} NOT NULL)""",
        "CREATE INDEX teams_by_revision ON teams (revision)",
        """CREATE TABLE keys (
            id TEXT PRIMARY KEY,
            key_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            team_id TEXT,
            user_name TEXT,
            budget_usd {money}, budget_period TEXT,
            rpm INTEGER, tpm INTEGER, max_parallel INTEGER,
            models TEXT NOT NULL DEFAULT '[]',
            metadata TEXT NOT NULL DEFAULT '{{}}',
            created_at {time}, expires_at {time}, revoked_at {time},
            revision {bigint} NOT NULL)""",
        "CREATE INDEX keys_by_revision ON keys (revision)",
        "CREATE INDEX keys_by_team ON keys (team_id)",
    ),
)

_LEDGER = Migration(
    2,
    "the ledger and its daily rollups",
    (
        """CREATE TABLE ledger (
            request_id TEXT PRIMARY KEY,
            started_at {time} NOT NULL,
            day TEXT NOT NULL,
            route TEXT NOT NULL,
            status INTEGER NOT NULL,
            key_id TEXT, team_id TEXT, user_name TEXT,
            requested_model TEXT, served_model TEXT, provider TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            error_code TEXT,
            stream {flag} NOT NULL,
            input_tokens {bigint} NOT NULL DEFAULT 0,
            cached_input_tokens {bigint} NOT NULL DEFAULT 0,
            cache_write_tokens {bigint} NOT NULL DEFAULT 0,
            reasoning_tokens {bigint} NOT NULL DEFAULT 0,
            output_tokens {bigint} NOT NULL DEFAULT 0,
            cost_usd {money} NOT NULL{pico:cost},
            cost_estimated {flag} NOT NULL,
            price_version TEXT NOT NULL DEFAULT '',
            latency_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
            ttft_ms DOUBLE PRECISION,
            overhead_ms DOUBLE PRECISION NOT NULL DEFAULT 0)""",
        "CREATE INDEX ledger_by_time ON ledger (started_at, request_id)",
        "CREATE INDEX ledger_by_key ON ledger (key_id, started_at)",
        "CREATE INDEX ledger_by_team ON ledger (team_id, started_at)",
        # Dimensions are '' rather than NULL so the unique key can be the upsert target.
        """CREATE TABLE ledger_daily (
            day TEXT NOT NULL,
            key_id TEXT NOT NULL, team_id TEXT NOT NULL, user_name TEXT NOT NULL,
            model TEXT NOT NULL, provider TEXT NOT NULL,
            requests {bigint} NOT NULL,
            input_tokens {bigint} NOT NULL,
            output_tokens {bigint} NOT NULL,
            cost_usd {money} NOT NULL{pico:cost},
            PRIMARY KEY (day, key_id, team_id, user_name, model, provider))""",
        "CREATE INDEX ledger_daily_by_key ON ledger_daily (key_id, day)",
        "CREATE INDEX ledger_daily_by_team ON ledger_daily (team_id, day)",
    ),
)

_SECRETS = Migration(
    3,
    "the gateway's own secrets (the key-hashing secret)",
    ("CREATE TABLE gateway_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)",),
)

_SPEND_INDEXES = Migration(
    4,
    "a key's and a team's spend read from the index alone",
    (
        # `{with_cost}` ends the column list with the cost (SQLite) or INCLUDEs it (PostgreSQL):
        # budgets, the admin API and the console sum a key's cost since a time without reading
        # a row of the table (measured: 53 ms → 0.9 ms for a month of one key on SQLite).
        "CREATE INDEX ledger_key_spend ON ledger (key_id, started_at{with_cost}",
        "CREATE INDEX ledger_team_spend ON ledger (team_id, started_at{with_cost}",
        "DROP INDEX ledger_by_key",
        "DROP INDEX ledger_by_team",
    ),
)


_RESPONSES = Migration(
    5,
    "stored Responses API state (previous_response_id)",
    (
        # `owner`: the principal that made the response, the only one (with the master key)
        # that may read it; items and the response object are JSON text.
        """CREATE TABLE responses (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            created_at {time} NOT NULL,
            input_items TEXT NOT NULL,
            response TEXT NOT NULL)""",
        "CREATE INDEX responses_by_time ON responses (created_at)",
    ),
)

_SERVICE_TIER = Migration(
    6,
    "the service tier that priced each request",
    # NULL: the list price (no tier asked for or reported, or one the catalog has no price for)
    ("ALTER TABLE ledger ADD COLUMN service_tier TEXT",),
)

_CACHE_HITS = Migration(
    7,
    "response cache hits in the ledger",
    (
        # FALSE is a keyword in both (SQLite stores 0); saved_usd is NULL on every other request.
        "ALTER TABLE ledger ADD COLUMN cache_hit {flag} NOT NULL DEFAULT FALSE",
        "ALTER TABLE ledger ADD COLUMN saved_usd {money}",
    ),
)

_CACHE_RESULTS = Migration(
    8,
    "what the response cache did, in the ledger and its daily rollups",
    (
        # NULL: the cache was off for the request's model; else 'hit', 'miss' or 'bypass'.
        # A hit ratio needs the misses, which `cache_hit` alone cannot tell from "cache off".
        "ALTER TABLE ledger ADD COLUMN cache_result TEXT",
        "UPDATE ledger SET cache_result = 'hit' WHERE cache_hit",
        "ALTER TABLE ledger_daily ADD COLUMN cache_hits {bigint} NOT NULL DEFAULT 0",
        "ALTER TABLE ledger_daily ADD COLUMN cache_misses {bigint} NOT NULL DEFAULT 0",
        "ALTER TABLE ledger_daily ADD COLUMN saved_usd {money} NOT NULL DEFAULT 0",
    ),
    sqlite_only=(
        # Saved USD summed exactly, as the cost is (see PICO_PER_USD). Records of migration 7
        # are converted through a double: exact to the 1e-12 USD below $1,000 saved per request.
        "ALTER TABLE ledger ADD COLUMN saved_pico INTEGER NOT NULL DEFAULT 0",
        "UPDATE ledger SET saved_pico = CAST(ROUND(CAST(saved_usd AS REAL) * 1e12) AS INTEGER) "
        "WHERE saved_usd IS NOT NULL",
        "ALTER TABLE ledger_daily ADD COLUMN saved_pico INTEGER NOT NULL DEFAULT 0",
    ),
)

_CACHE_PERMISSION = Migration(
    9,
    "keys and teams that forbid the response cache",
    (
        # TRUE: the model's cache policy applies (every existing key and team); FALSE: the
        # key's requests (or the team's keys') are never looked up nor kept in the cache.
        "ALTER TABLE keys ADD COLUMN cache_allowed {flag} NOT NULL DEFAULT TRUE",
        "ALTER TABLE teams ADD COLUMN cache_allowed {flag} NOT NULL DEFAULT TRUE",
    ),
)

MIGRATIONS: tuple[Migration, ...] = (
    _ACCESS, _LEDGER, _SECRETS, _SPEND_INDEXES, _RESPONSES, _SERVICE_TIER, _CACHE_HITS,
    _CACHE_RESULTS, _CACHE_PERMISSION,
)  # fmt: skip
"""In order; a version once released is never edited, only followed by a new one."""
