"""The `calcifer` command: `serve` the gateway, `catalog check|audit` a catalog, `db migrate` the database."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from calcifer import __version__
from calcifer.catalog import Catalog, load_catalog
from calcifer.cli_access import ACCESS_COMMANDS, add_access_commands, run_access_command
from calcifer.cli_audit import add_audit_command, run_audit
from calcifer.domain.models import ModelMode
from calcifer.domain.pricing import format_usd
from calcifer.errors import CatalogError, ConfigurationError, StoreUnavailable
from calcifer.providers.registry import unavailable_providers
from calcifer.settings import PACKAGED_CONFIG_PATH, Settings, environment_snapshot, load_settings
from calcifer.telemetry.logging import configure_logging

if TYPE_CHECKING:
    from sanic import Sanic
    from sanic.worker.loader import AppLoader

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "init":
            return _init(Path(args.directory))
        if args.command == "db":
            return _migrate(args)
        if args.command in ACCESS_COMMANDS:
            return run_access_command(args)
        if args.catalog_command == "audit":
            return run_audit(args)
        return _check(args)
    except CatalogError as exc:
        print(f"catalog is invalid ({len(exc.problems)} problem(s)):", file=sys.stderr)
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except ConfigurationError as exc:
        print(f"configuration error: {exc.message}", file=sys.stderr)
        return 1
    except StoreUnavailable as exc:
        print(f"database unavailable: {exc.message}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calcifer", description="Calcifer AI gateway")
    parser.add_argument("--version", action="version", version=f"calcifer {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", help="config file (default: $CALCIFER_CONFIG or ./config.yaml)")
    serve.add_argument("--host", help="interface to listen on")
    serve.add_argument("--port", type=int, help="TCP port")
    serve.add_argument("--workers", type=int, help="worker processes")
    catalog = commands.add_parser("catalog", help="work with the model catalog")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True)
    check = catalog_commands.add_parser("check", help="validate a catalog and summarize it")
    check.add_argument("path", nargs="?", help="catalog file or directory (default: the config's)")
    check.add_argument("--config", help="config file naming the catalog")
    add_audit_command(catalog_commands)
    init = commands.add_parser("init", help="write editable copies of the shipped config and catalog")
    init.add_argument("directory", nargs="?", default=".", help="where to write them (default: here)")
    database = commands.add_parser("db", help="work with the database of keys, teams and the ledger")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    add_access_commands(commands)
    migrate = database_commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.add_argument("--config", help="config file naming the database")
    return parser


def _serve(args: argparse.Namespace) -> int:
    settings = _with_cli_overrides(load_settings(args.config), args)
    configure_logging(settings.logging)
    catalog = load_catalog(settings.catalog_path, settings.environment)
    _report_start(settings, catalog)
    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    from calcifer.app import create_app
    from calcifer.http.server_limits import GatewayProtocol

    loader = AppLoader(factory=partial(create_app, settings))
    app = loader.load()
    server = settings.server
    # One worker runs in this process: no manager, no second interpreter to start.
    single = server.workers == 1
    app.prepare(
        host=server.host,
        port=server.port,
        workers=server.workers,
        access_log=False,
        motd=False,
        single_process=single,
        protocol=GatewayProtocol,
        ssl={"cert": server.tls_cert, "key": server.tls_key} if server.tls_cert else None,
    )
    if single:
        Sanic.serve_single(primary=app)
        return 0
    return _serve_workers(app, loader, server.graceful_shutdown_seconds)


def _serve_workers(app: Sanic[Any, Any], loader: AppLoader, grace_seconds: float) -> int:
    """Run Sanic's manager process; the supervisor handles stop signals and deaths (see there)."""
    from sanic import Sanic

    from calcifer.runtime.supervisor import Supervisor
    from calcifer.telemetry.metrics import prepare_multiprocess_dir, remove_multiprocess_dir

    supervisor = Supervisor(grace_seconds)
    supervisor.take_signals()
    # Before any worker starts: each one finds the directory for its metric samples in the
    # environment it inherits.
    samples = prepare_multiprocess_dir()
    app.main_process_ready(lambda app: supervisor.attach(app.manager))
    # Each worker reloads its catalog on SIGHUP; the manager passes the signal on
    # (left alone, SIGHUP would end the manager and every worker with it).
    signal.signal(signal.SIGHUP, _forward_to_workers)
    try:
        Sanic.serve(primary=app, app_loader=loader)
    except (OSError, EOFError):
        if not supervisor.shared_state_lost():  # logged and the workers told to stop, if so
            raise
        return 1
    finally:
        remove_multiprocess_dir(samples)
    return 0


def _forward_to_workers(signum: int, frame: object) -> None:
    """Pass SIGHUP on to the children that handle it: the workers. Sanic's state-sharing
    process is a child too, and SIGHUP would end it (and the whole server with it)."""
    for tasks in Path("/proc/self/task").glob("*/children"):
        for child in tasks.read_text().split():
            if _handles(int(child), signum):
                os.kill(int(child), signum)


def _handles(pid: int, signum: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next((line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), "0")
    return bool(int(caught, 16) & (1 << (signum - 1)))


def _init(directory: Path) -> int:
    """Copy the packaged config.yaml and catalog/ into `directory`, never over existing files."""
    source = PACKAGED_CONFIG_PATH.parent
    catalog_files = sorted((source / "catalog").glob("*.yaml"))
    files = [Path("config.yaml"), *(Path("catalog") / f.name for f in catalog_files)]
    existing = [str(directory / f) for f in files if (directory / f).exists()]
    if existing:
        print("calcifer init: these exist already, nothing written:", *existing, sep="\n  ", file=sys.stderr)
        return 1
    (directory / "catalog").mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copyfile(source / name, directory / name)
    print(f"wrote {directory / 'config.yaml'} and {len(files) - 1} catalog files; start with: calcifer serve")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from calcifer.store import apply_migrations

    url = load_settings(args.config).database_url
    applied = asyncio.run(apply_migrations(url))
    where = url.split("@")[-1]  # never print a password
    done = f"applied migration(s) {', '.join(map(str, applied))}" if applied else "up to date"
    print(f"{where}: {done}")
    return 0


def _with_cli_overrides(settings: Settings, args: argparse.Namespace) -> Settings:
    changes = {
        name: getattr(args, name) for name in ("host", "port", "workers") if getattr(args, name) is not None
    }
    return replace(settings, server=replace(settings.server, **changes)) if changes else settings


def _report_start(settings: Settings, catalog: Catalog) -> None:
    logger.info(
        "catalog {} loaded from {}: {} providers, {} models",
        catalog.version,
        settings.catalog_path,
        len(catalog.providers),
        len(catalog.models),
    )
    unavailable = unavailable_providers(catalog)
    if unavailable:
        missing = ", ".join(f"{pid} ({catalog.providers[pid].api_key_env})" for pid in unavailable)
        logger.warning("providers without an API key, whose models answer 503 until it is set: {}", missing)
    logger.info(
        "listening on http://{}:{} with {} worker(s)",
        settings.server.host,
        settings.server.port,
        settings.server.workers,
    )


def _check(args: argparse.Namespace) -> int:
    if args.path:
        environment = load_settings(args.config).environment if args.config else environment_snapshot()
        catalog = load_catalog(Path(args.path), environment)
    else:
        settings = load_settings(args.config)
        catalog = load_catalog(settings.catalog_path, settings.environment)
    print(_summary(catalog))
    return 0


def _summary(catalog: Catalog) -> str:
    lines = [
        f"catalog {catalog.version}: OK ({len(catalog.providers)} providers, {len(catalog.models)} models)"
    ]
    if catalog.prices_as_of:
        lines.append(f"prices as of {', '.join(catalog.prices_as_of)}")
    unavailable = unavailable_providers(catalog)
    lines.append("")
    lines.append("providers:")
    for provider in catalog.providers.values():
        state = f"unavailable: {unavailable[provider.id]}" if provider.id in unavailable else "ready"
        lines.append(f"  {provider.id:<14} {provider.kind:<8} {provider.base_url or '-':<40} {state}")
    lines.append("")
    lines.append(
        f"models (USD per 1M tokens):\n  {'name':<28} {'provider':<12} {'input':>9} "
        f"{'cached':>9} {'output':>9}  aliases"
    )
    for model in catalog.models.values():
        price = model.price
        cached = format_usd(price.cached_input) if price.cached_input is not None else "-"
        output = format_usd(price.output) if model.mode is ModelMode.CHAT else "-"  # embeddings: none
        lines.append(
            f"  {model.name:<28} {model.provider_id:<12} {format_usd(price.input):>9} {cached:>9} "
            f"{output:>9}  {', '.join(model.aliases)}"
        )
    lines += _lifecycle_lines(catalog, datetime.now(UTC).date())
    return "\n".join(lines)


def _lifecycle_lines(catalog: Catalog, today: date) -> list[str]:
    """The models that are deprecated or retired (or will retire), with their replacements."""
    lines = []
    for model in catalog.models.values():
        if model.deprecated_on is None and model.retires_on is None:
            continue
        retired = model.retires_on is not None and today >= model.retires_on
        state = (
            "retired"
            if retired
            else "deprecated"
            if model.deprecated_on and today >= model.deprecated_on
            else "scheduled"
        )
        dates = [
            f"deprecated {model.deprecated_on}" if model.deprecated_on else "",
            f"retires {model.retires_on}" if model.retires_on else "",
        ]
        instead = f" → {model.replacement}" if model.replacement else ""
        lines.append(f"  {model.name:<28} {state:<10} {', '.join(d for d in dates if d)}{instead}")
    return ["", "lifecycle:", *lines] if lines else []
