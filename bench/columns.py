"""The columns of a bench run: what each measures, how it differs from what users run, how it starts.

Calcifer runs with the repository's shipped `config.yaml`, copied unchanged next to a catalog
that holds only the bench provider (kind `openai`, at the fake upstream). A variant changes
one thing on top (log level, a provider's transport, workers, keys and their store) and says so
in `setup`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.access import KEY_SUMMARY, AccessStore, issue_bench_key
from bench.load import MODEL
from bench.processes import ROOT, Service, python

UPSTREAM_PORT, FLOOR_PORT, GATEWAY_PORT, COMPARE_PORT = 9100, 9150, 9200, 9300
SHIPPED_CONFIG = ROOT / "config.yaml"
UPSTREAM_KEY_ENV = "BENCH_UPSTREAM_KEY"
# Both c=1 scenarios at WARNING too: their difference with the INFO column is the request log line.
LOG_LINE_SCENARIOS = frozenset({"non-stream c=1", "50-chunk stream c=1"})


@dataclass
class Column:
    """One target of the load; `start` gives a fresh process per measurement (None: nothing to start)."""

    name: str
    url: str
    start: Callable[[], Service] | None = None
    setup: str = ""
    only: frozenset[str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    beside: str | None = None  # measured right next to this column in every round: their difference counts
    close: Callable[[], None] | None = None  # after the run: what the column started besides itself

    def runs(self, scenario: str) -> bool:
        return self.only is None or scenario in self.only


@dataclass(frozen=True)
class Skipped:
    """A column that cannot run on this code, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class CalciferVariant:
    name: str
    workers: int = 1
    log_level: str | None = None  # None: as shipped
    transport: str | None = None  # None: the catalog's default (no `transport:` line)
    only: frozenset[str] | None = None
    beside: str | None = None
    access: str | None = None  # keys required, one issued and sent; the store: "embedded" or "pg-redis"
    default: bool = True  # in a run without --column
    env: tuple[tuple[str, str], ...] = ()  # set for the gateway: a setting changed from the shipped one
    headers: tuple[tuple[str, str], ...] = ()  # sent with every request of the load


_CACHE_ON = (("CALCIFER_CACHE_ENABLED", "true"), ("CALCIFER_CACHE_SAMPLED", "true"))
CALCIFER_VARIANTS = [
    CalciferVariant("calcifer-1w"),
    CalciferVariant("calcifer-1w-aiohttp", transport="aiohttp"),
    CalciferVariant(
        "calcifer-1w-warning", log_level="WARNING", only=LOG_LINE_SCENARIOS, beside="calcifer-1w"
    ),
    CalciferVariant("calcifer-2w", workers=2),
    # Issue 11: auth + one budget + rpm + ledger. Not in the default run: three more columns of
    # every scenario, and the last one needs PostgreSQL and Redis installed.
    CalciferVariant("calcifer-1w-keys", access="embedded", default=False),
    CalciferVariant("calcifer-2w-keys", workers=2, access="embedded", default=False),
    CalciferVariant("calcifer-1w-pg-redis", access="pg-redis", default=False),
    # Issue 13: the shipped config serves /metrics; this is the same gateway without, right beside it.
    CalciferVariant(
        "calcifer-1w-nometrics",
        only=LOG_LINE_SCENARIOS,
        beside="calcifer-1w",
        default=False,
        env=(("CALCIFER_METRICS_ENABLED", "false"),),
    ),
    # Issue 15: the response cache on (the bench body has no temperature: `sampled` too). Every
    # request after the first is a hit; with a TTL of 1 µs every one is a miss (a lookup that
    # finds its entry expired, then a store), beside the shipped gateway (cache off).
    CalciferVariant(
        "calcifer-1w-cache-hit", only=frozenset({"non-stream c=1"}), beside="calcifer-1w",
        default=False, env=_CACHE_ON,
    ),
    CalciferVariant(
        "calcifer-1w-cache-miss", only=frozenset({"non-stream c=1"}), beside="calcifer-1w",
        default=False, env=_CACHE_ON, headers=(("X-Calcifer-Cache-Ttl", "0.000001"),),
    ),
]
COLUMN_NAMES = ["direct", "floor", *(v.name for v in CALCIFER_VARIANTS)]


def direct_column() -> Column:
    return Column("direct", f"http://127.0.0.1:{UPSTREAM_PORT}/v1", setup="the fake upstream itself")


def floor_column(workdir: Path) -> Column:
    upstream = f"http://127.0.0.1:{UPSTREAM_PORT}/v1"

    def start() -> Service:
        return Service(
            "floor",
            [python(), "-m", "bench.floor", "--port", str(FLOOR_PORT), "--upstream", upstream],
            f"http://127.0.0.1:{FLOOR_PORT}/health",
            cpus="0",
            log=workdir / "floor.log",
        ).start()

    setup = "bare Sanic + aiohttp forwarder (bench/floor.py), one worker, the gateway's core"
    return Column("floor", f"http://127.0.0.1:{FLOOR_PORT}/v1", start, setup)


def shipped_config() -> dict[str, Any]:
    document = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8")) or {}
    if not isinstance(document, dict):
        raise ValueError(f"{SHIPPED_CONFIG}: expected a mapping")
    return document


def shipped_summary() -> str:
    """What users get from the shipped config, in the settings the bench cares about."""
    config = shipped_config()
    logging, server = config.get("logging") or {}, config.get("server") or {}
    return (
        f"logging.level {logging.get('level', 'INFO')}, logging.format {logging.get('format', 'human')}, "
        f"server.workers {server.get('workers', 1)}, server.port {server.get('port', 8080)}"
    )


def bench_catalog(transport: str | None) -> str:
    transport_line = f"    transport: {transport}\n" if transport else ""
    return (
        "# The bench's only provider, the fake OpenAI upstream; other settings are the catalog's defaults.\n"
        "providers:\n  bench:\n    kind: openai\n"
        f"    api_key_env: {UPSTREAM_KEY_ENV}\n"
        f"    base_url: http://127.0.0.1:{UPSTREAM_PORT}/v1\n"
        f"{transport_line}"
        f"models:\n  {MODEL}:\n    provider: bench\n"
        "    pricing: {input: 2.50, cached_input: 1.25, output: 10.00}\n"
    )


def calcifer_column(variant: CalciferVariant, workdir: Path, port: int) -> Column | Skipped:
    """Write the variant's config and catalog under `workdir/NAME`; skip it if the catalog refuses them."""
    home = workdir / variant.name
    home.mkdir(parents=True, exist_ok=True)
    config = shipped_config()
    changes = [f"--port {port} (shipped {(config.get('server') or {}).get('port', 8080)})"]
    shipped_workers = int((config.get("server") or {}).get("workers", 1))
    if variant.workers != shipped_workers:
        changes.append(f"--workers {variant.workers} (shipped {shipped_workers})")
    catalog_path, catalog_changed = _catalog_location(config)
    shipped_level = str((config.get("logging") or {}).get("level", "INFO"))
    level_changed = variant.log_level is not None and variant.log_level.upper() != shipped_level.upper()
    if level_changed:
        config.setdefault("logging", {})["level"] = variant.log_level
        changes.append(f"logging.level {variant.log_level} (shipped {shipped_level})")
    changes += [f"{name}={value}" for name, value in variant.env]
    changes += [f"header {name}: {value}" for name, value in variant.headers]
    if catalog_changed:
        config.setdefault("catalog", {})["path"] = catalog_path
        changes.append(f"catalog.path {catalog_path} (shipped: an absolute path)")
    if level_changed or catalog_changed:
        (home / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    else:
        shutil.copyfile(SHIPPED_CONFIG, home / "config.yaml")  # byte for byte what users get
    catalog_file = _write_catalog(home / catalog_path, bench_catalog(variant.transport))
    if variant.transport:
        changes.append(f"provider transport: {variant.transport}")
        refusal = catalog_refusal(catalog_file)
        if refusal:
            where = refusal.replace(f"{home}/", "")
            return Skipped(variant.name, f"the catalog refuses `transport: {variant.transport}` ({where})")
    starter = _calcifer_starter(variant, home, port, workdir)
    column = Column(
        variant.name,
        f"http://127.0.0.1:{port}/v1",
        starter,
        setup="; ".join(changes),
        only=variant.only,
        headers=dict(variant.headers),
        beside=variant.beside,
    )
    return _with_keys(column, starter, variant, home) if variant.access else column


def _with_keys(
    column: Column, start_gateway: Callable[..., Service], variant: CalciferVariant, home: Path
) -> Column:
    """Keys required: the store's environment on every start; on the first, one key issued, then
    sent as `Authorization: Bearer` by every measurement (wrk and the stream client alike)."""
    store = AccessStore(variant.access or "embedded", home / "data")

    def start() -> Service:
        service = start_gateway(store.env())
        if "Authorization" not in column.headers:
            try:
                secret = issue_bench_key(service.health_url.removesuffix("/health"), workers=variant.workers)
            except BaseException:
                service.stop()
                raise
            column.headers["Authorization"] = f"Bearer {secret}"
        return service

    column.start, column.close = start, store.close
    column.setup += (
        f"; CALCIFER_MASTER_KEY set (keys required); {store.describe()}; one key ({KEY_SUMMARY}) "
        "issued by POST /admin/keys and sent with every request"
    )
    return column


def _catalog_location(config: dict[str, Any]) -> tuple[str, bool]:
    """Where the shipped config looks for its catalog, relative to it; (path, whether we had to move it)."""
    path = str((config.get("catalog") or {}).get("path", "catalog"))
    if Path(path).is_absolute():
        return "catalog", True
    return path, False


def _write_catalog(location: Path, text: str) -> Path:
    """The catalog path may name a YAML file or a directory of them."""
    if location.suffix in {".yaml", ".yml"}:
        file = location
    else:
        location.mkdir(parents=True, exist_ok=True)
        file = location / "bench.yaml"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    return file


def catalog_refusal(catalog_file: Path) -> str | None:
    """`calcifer catalog check`'s first problem with the file, or None when it is accepted."""
    result = subprocess.run(
        [python(), "-m", "calcifer", "catalog", "check", str(catalog_file)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, UPSTREAM_KEY_ENV: "bench"},
    )
    if result.returncode == 0:
        return None
    problems = [line for line in result.stderr.splitlines() if line.strip()]
    return problems[-1] if problems else f"exit status {result.returncode}"


def _calcifer_starter(
    variant: CalciferVariant, home: Path, port: int, workdir: Path
) -> Callable[..., Service]:
    command = [python(), "-m", "calcifer", "serve", "--config", str(home / "config.yaml")]
    command += ["--port", str(port), "--workers", str(variant.workers)]
    # explicit: the bench pins itself to CPU 1, and children inherit that
    cpus = "0" if variant.workers == 1 else "0,1"

    def start(env: dict[str, str] | None = None) -> Service:
        return Service(
            variant.name,
            command,
            f"http://127.0.0.1:{port}/health",
            cpus=cpus,
            env={UPSTREAM_KEY_ENV: "bench", **dict(variant.env), **(env or {})},
            log=workdir / f"{variant.name}.log",
        ).start()

    return start


def compare_column(name: str, workdir: Path) -> Column:
    """A plugin script starts another gateway; `prepare` prints `URL=`, `HEALTH=` and optional `HEADER=`."""
    plugin = ROOT / "bench" / "plugins" / f"{name}.sh"
    arguments = [str(workdir), str(UPSTREAM_PORT), str(COMPARE_PORT)]
    result = subprocess.run(
        ["bash", str(plugin), "prepare", *arguments], capture_output=True, text=True, check=True
    )
    values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    headers = dict([values["HEADER"].split(": ", 1)]) if "HEADER" in values else {}
    command = ["bash", str(plugin), "run", *arguments]

    def start() -> Service:
        return Service(name, command, values["HEALTH"], cpus="0", log=workdir / f"{name}.log").start(120)

    return Column(name, values["URL"], start, f"bench/plugins/{name}.sh, the gateway's core", headers=headers)
