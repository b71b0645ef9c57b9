"""The operator commands that work on keys, teams and spend without HTTP:
`calcifer keys …`, `calcifer teams …`, `calcifer spend …`.

They open the store the gateway uses (the config's database) and reuse the admin API's own
operations, so a key made here is exactly one made through `POST /admin/keys`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from calcifer.catalog import load_catalog
from calcifer.domain.key_directory import KeyDirectory
from calcifer.domain.ports import Counters
from calcifer.domain.pricing import format_usd
from calcifer.errors import CalciferError
from calcifer.http.admin import keys, spend, teams
from calcifer.settings import Settings, load_settings
from calcifer.store import Store, apply_migrations, open_store

__all__ = ["ACCESS_COMMANDS", "add_access_commands", "run_access_command"]

ACCESS_COMMANDS = {"keys", "teams", "spend"}


@dataclass(slots=True)
class _Services:
    store: Store
    hashing_secret: bytes
    directory: KeyDirectory | None = None
    counters: Counters | None = None

    @property
    def key_store(self) -> Store:
        return self.store

    @property
    def ledger_store(self) -> Store:
        return self.store


def add_access_commands(commands: Any) -> None:
    """Add the commands to the `calcifer` parser's subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="config file (default: $CALCIFER_CONFIG or ./config.yaml)")
    key = commands.add_parser("keys", help="issue, list, show, change and revoke virtual keys")
    key_commands = key.add_subparsers(dest="action", required=True)
    create = key_commands.add_parser("create", parents=[common], help="issue a key (printed once)")
    create.add_argument("--name", required=True)
    _scope_options(create)
    create.add_argument("--team", dest="team_id")
    create.add_argument("--user")
    create.add_argument("--model", dest="models", action="append", help="allowed model (repeat); default all")
    create.add_argument("--expires-at")
    key_commands.add_parser("list", parents=[common], help="every key").add_argument("--team", dest="team_id")
    key_commands.add_parser("show", parents=[common], help="one key with its spend").add_argument("id")
    key_commands.add_parser("revoke", parents=[common], help="revoke a key").add_argument("id")
    team = commands.add_parser("teams", help="create, list, show and delete teams")
    team_commands = team.add_subparsers(dest="action", required=True)
    team_create = team_commands.add_parser("create", parents=[common], help="create a team")
    team_create.add_argument("--name", required=True)
    _scope_options(team_create)
    team_commands.add_parser("list", parents=[common], help="every team")
    team_commands.add_parser("show", parents=[common], help="one team with its spend").add_argument("id")
    team_commands.add_parser("delete", parents=[common], help="delete a team without keys").add_argument("id")
    spent = commands.add_parser("spend", parents=[common], help="spend from the ledger, grouped")
    spent.add_argument("--group-by", default="", help=f"comma-separated: {', '.join(spend.GROUPS)}")
    spent.add_argument("--from", dest="since")
    spent.add_argument("--to", dest="until")
    spent.add_argument("--key", dest="key_id")
    spent.add_argument("--team", dest="team_id")


def _scope_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--budget", help="USD, e.g. 10.00")
    parser.add_argument("--period", choices=["total", "day", "month"], default="total")
    parser.add_argument("--rpm", type=int)
    parser.add_argument("--tpm", type=int)
    parser.add_argument("--max-parallel", type=int)
    never = "never answer from nor keep in the response cache (zero data retention)"
    parser.add_argument("--no-cache", dest="cache", action="store_false", help=never)


def run_access_command(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    try:
        result = asyncio.run(_with_store(settings, lambda services: _run(args, settings, services)))
    except CalciferError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=_plain))
    return 0


async def _with_store(settings: Settings, work: Callable[[_Services], Awaitable[Any]]) -> Any:
    if settings.database_url.startswith("sqlite:///"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    await apply_migrations(settings.database_url)
    store = await open_store(settings.database_url)
    try:
        secret = settings.key_hash_secret or await store.hashing_secret()
        return await work(_Services(store, secret))
    finally:
        await store.aclose()


Action = Callable[[argparse.Namespace, Settings, _Services], Awaitable[Any]]


async def _run(args: argparse.Namespace, settings: Settings, services: _Services) -> Any:
    action = "spend" if args.command == "spend" else f"{args.command} {args.action}"
    return await _ACTIONS[action](args, settings, services)


async def _create_key(args: argparse.Namespace, settings: Settings, services: _Services) -> Any:
    catalog = load_catalog(settings.catalog_path, settings.environment)
    models = {name for model in catalog.models.values() for name in (model.name, *model.aliases)}
    return await keys.issue(services, _key_body(args), models)


async def _list_keys(args: argparse.Namespace, settings: Settings, services: _Services) -> Any:
    return [
        await keys.key_view(services, k, spend=False) for k in await services.store.list_keys(args.team_id)
    ]


async def _list_teams(args: argparse.Namespace, settings: Settings, services: _Services) -> Any:
    return [await teams.team_view(services, t, spend=False) for t in await services.store.list_teams()]


async def _spend(args: argparse.Namespace, settings: Settings, services: _Services) -> Any:
    given = {"group_by": args.group_by, "from": args.since, "to": args.until}
    given |= {"key_id": args.key_id, "team_id": args.team_id}
    return await spend.report(services, {name: value for name, value in given.items() if value})


_ACTIONS: dict[str, Action] = {
    "keys create": _create_key,
    "keys list": _list_keys,
    "keys show": lambda a, _, s: _show_key(s, a.id),
    "keys revoke": lambda a, _, s: keys.revoke(s, a.id),
    "teams create": lambda a, _, s: teams.create(s, _scope_body(a)),
    "teams list": _list_teams,
    "teams show": lambda a, _, s: _show_team(s, a.id),
    "teams delete": lambda a, _, s: teams.delete(s, a.id),
    "spend": _spend,
}


async def _show_key(services: _Services, key_id: str) -> Any:
    return await keys.key_view(services, await keys.existing_key(services, key_id))


async def _show_team(services: _Services, team_id: str) -> Any:
    return await teams.team_view(services, await teams.existing_team(services, team_id))


def _scope_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"name": args.name}
    if args.budget is not None:
        body["budget"] = {"max_usd": args.budget, "period": args.period}
    limits = {"rpm": args.rpm, "tpm": args.tpm, "max_parallel": args.max_parallel}
    if any(v is not None for v in limits.values()):
        body["limits"] = {k: v for k, v in limits.items() if v is not None}
    if not args.cache:
        body["cache"] = False
    return body


def _key_body(args: argparse.Namespace) -> dict[str, Any]:
    body = _scope_body(args)
    for name in ("team_id", "user", "models", "expires_at"):
        if getattr(args, name) is not None:
            body[name] = getattr(args, name)
    return body


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return format_usd(value)
    raise TypeError(type(value).__name__)
