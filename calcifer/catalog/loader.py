"""Load the catalog in two steps: a strict parse of each file, then a build that checks
what no single file can (references to providers, names unique across files).

Every problem found is reported, one line each, as `file:line:col: path: message`.
"""

from __future__ import annotations

import hashlib
import json
import ssl
from collections.abc import Iterator, Mapping
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from calcifer.catalog.model import Catalog, ProviderConfig, ProxyAddress, Secret
from calcifer.catalog.modes import fallback_mode_mismatch, mode_of, mode_problems
from calcifer.catalog.prices import build_pricing, schedule_problems
from calcifer.catalog.schema_problems import SECTIONS, broken_entry, problems_of
from calcifer.catalog.yaml_source import JsonPath, SourceDocument, read_document
from calcifer.domain.breaker import BreakerSettings
from calcifer.domain.cache_policy import CacheOverride, CacheScope
from calcifer.domain.models import Deployment, ModelSpec
from calcifer.errors import CatalogError, Problem

__all__ = ["catalog_files", "load_catalog", "schema"]

_PROVIDER_DEFAULTS = {"timeout": 60.0, "max_retries": 3}
_TRANSPORT_KEYS = (
    "transport",
    "max_connections",
    "max_response_bytes",
    "max_event_bytes",
    "max_stream_seconds",
    "max_stream_bytes",
)
_NOT_FOR_KIND = {
    # echo makes no upstream call: a transport setting there would do nothing
    "echo": {key: "an echo provider makes no upstream calls" for key in _TRANSPORT_KEYS},
    # the google-genai SDK sends on its own aiohttp session and reads the answers itself
    "google": {
        "transport": "a google provider always uses the google-genai SDK's aiohttp session; "
        "only 'aiohttp' is accepted here",
        "max_response_bytes": "not applied to a google provider: the google-genai SDK reads the answers",
        "max_event_bytes": "not applied to a google provider: the google-genai SDK reads the stream",
        "max_stream_bytes": "not applied to a google provider: the google-genai SDK reads the stream",
    },
}


@cache
def schema() -> dict[str, Any]:
    """The catalog's JSON Schema, shipped inside the package."""
    text = resources.files("calcifer.catalog").joinpath("schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def catalog_files(path: Path) -> list[Path]:
    """The YAML files of a catalog: the file itself, or every *.yaml/*.yml under a directory."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())
    return [path]


def load_catalog(path: Path, environ: Mapping[str, str]) -> Catalog:
    """Parse, validate and build the catalog at `path`, or raise `CatalogError`."""
    files = catalog_files(path)
    if not files or not files[0].exists():
        raise CatalogError([Problem(str(path), 1, 1, "(catalog)", "no catalog YAML file found here")])
    documents = [_parse(file, environ) for file in files]
    # Build even when a file has problems, skipping only the entries they break: a typo in
    # one provider must not hide a model that names an undeclared one.
    return _Builder(documents, environ).build(_version(files))


def _parse(file: Path, environ: Mapping[str, str]) -> SourceDocument:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        document = SourceDocument(file=str(file), data=None, broken={()})
        document.problems.append(Problem(str(file), 1, 1, "(file)", f"cannot read: {exc}"))
        return document
    document = read_document(str(file), text, environ)
    if document.problems:  # YAML syntax, duplicate keys, unset variables: not built at all
        document.broken.add(())
        return document
    if document.data is None:
        document.data = {}
    for error in _validator().iter_errors(document.data):
        document.problems.extend(problems_of(error, document))
        broken = broken_entry(error)
        if broken is not None:
            document.broken.add(broken)
    return document


def _breaker(raw: dict[str, Any]) -> BreakerSettings:
    defaults = BreakerSettings()
    return BreakerSettings(
        consecutive_failures=int(raw.get("consecutive_failures", defaults.consecutive_failures)),
        error_rate=float(raw.get("error_rate", defaults.error_rate)),
        min_calls=int(raw.get("min_calls", defaults.min_calls)),
        window_seconds=float(raw.get("window_seconds", defaults.window_seconds)),
        cooldown_seconds=float(raw.get("cooldown_seconds", defaults.cooldown_seconds)),
    )


def _has_responses_api(raw: dict[str, Any]) -> bool:
    """The default of `responses_api`: OpenAI's own API has it; Azure's is served elsewhere."""
    return bool(raw["kind"] == "openai" and not raw.get("api_version"))


def _seconds(value: object) -> float | None:
    return None if value is None else float(str(value))


def _model_references(raw: Any) -> Iterator[tuple[str, int | None, object]]:
    """(field, index in its list or None, model named) for every model a model entry names."""
    if not isinstance(raw, dict):
        return
    for field_name in ("fallbacks", "context_window_fallbacks"):
        targets = raw.get(field_name)
        if isinstance(targets, list):
            yield from ((field_name, index, target) for index, target in enumerate(targets))
    if isinstance(raw.get("replacement"), str):
        yield "replacement", None, raw["replacement"]


def _cache_override(raw: dict[str, Any] | None) -> CacheOverride | None:
    """A model's `cache:` section (validated by the schema); None when it has none."""
    if raw is None:
        return None
    ttl, scope = raw.get("ttl_seconds"), raw.get("scope")
    return CacheOverride(
        enabled=raw.get("enabled"),
        ttl_seconds=None if ttl is None else float(ttl),
        scope=None if scope is None else CacheScope(scope),
        sampled=raw.get("sampled"),
        multiple_choices=raw.get("multiple_choices"),
    )


def _day(value: object) -> date | None:
    return None if value is None else date.fromisoformat(str(value))


def _version(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


class _Builder:
    """Merge the validated files and check cross-references."""

    def __init__(self, documents: list[SourceDocument], environ: Mapping[str, str]) -> None:
        self._documents = documents
        self._environ = environ
        self._providers: dict[str, ProviderConfig] = {}
        self._provider_origin: dict[str, str] = {}
        self._models: dict[str, ModelSpec] = {}
        self._names: dict[str, str] = {}
        self._names_to_models: dict[str, str] = {}
        self._declared_broken: set[str] = set()
        self._model_entries: list[tuple[SourceDocument, str, Any]] = []
        """Providers declared with a problem of their own: named, so not "unknown", but not built."""
        self._problems = [problem for document in documents for problem in document.problems]
        # A file or section that could not be read at all may declare anything: references
        # into it cannot be checked, so none is reported as unknown.
        self._references_checkable = not any(
            broken in document.broken for document in documents for broken in [(), *((s,) for s in SECTIONS)]
        )

    def _entries(self, section: str) -> Iterator[tuple[SourceDocument, str, str, Any]]:
        """Every `section.name: raw` entry of the files whose section can be read."""
        for document in self._documents:
            if () in document.broken or (section,) in document.broken:
                continue
            for name, raw in (document.data.get(section) or {}).items():
                yield document, section, name, raw

    def build(self, version: str) -> Catalog:
        for document, section, name, raw in self._entries("providers"):
            if (section, name) in document.broken:
                self._declared_broken.add(name)
            else:
                self._add_provider(document, name, raw)
        for document, section, name, raw in self._entries("models"):
            self._model_entries.append((document, name, raw))
            if (section, name) in document.broken:
                self._claim(document, name, (section, name), at_key=True)
                self._check_provider_references(document, name, raw)
            else:
                self._add_model(document, name, raw)
        self._check_fallbacks()
        if self._problems:
            raise CatalogError(self._problems)
        dates = tuple(
            sorted({str(d.data["prices_as_of"]) for d in self._documents if "prices_as_of" in d.data})
        )
        return Catalog(
            providers=self._providers,
            models=self._models,
            version=version,
            prices_as_of=dates,
        )

    def _add_provider(self, document: SourceDocument, provider_id: str, raw: dict[str, Any]) -> None:
        path = ("providers", provider_id)
        if provider_id in self._providers:
            message = f"provider '{provider_id}' is already declared in {self._provider_origin[provider_id]}"
            self._problems.append(document.problem(path, message, at_key=True))
            return
        self._provider_origin[provider_id] = document.file
        key_env = raw.get("api_key_env")
        key = self._environ.get(key_env, "").strip() if key_env else ""
        proxy = self._proxy(document, path, str(raw.get("proxy") or "").strip())
        self._check_transport_keys(document, path, raw)
        if "responses_api" in raw and raw["kind"] != "openai":
            problem = document.problem((*path, "responses_api"), "only an openai provider has it")
            self._problems.append(problem)
        defaults = ProviderConfig(id=provider_id, kind=raw["kind"])
        self._providers[provider_id] = ProviderConfig(
            id=provider_id,
            kind=raw["kind"],
            base_url=raw.get("base_url"),
            api_version=raw.get("api_version"),
            responses_api=bool(raw.get("responses_api", _has_responses_api(raw))),
            api_key_env=key_env,
            api_key=Secret(key) if key else None,
            timeout=float(raw.get("timeout", _PROVIDER_DEFAULTS["timeout"])),
            first_byte_timeout=_seconds(raw.get("first_byte_timeout")),
            idle_timeout=_seconds(raw.get("idle_timeout")),
            max_retries=int(raw.get("max_retries", _PROVIDER_DEFAULTS["max_retries"])),
            breaker=_breaker(raw.get("circuit_breaker") or {}),
            headers=tuple((str(k), str(v)) for k, v in (raw.get("headers") or {}).items()),
            proxy=proxy,
            ca_bundle=self._ca_bundle(document, path, raw.get("ca_bundle")),
            transport=raw.get("transport", "aiohttp" if raw["kind"] == "google" else defaults.transport),
            max_connections=int(raw.get("max_connections", defaults.max_connections)),
            max_response_bytes=int(raw.get("max_response_bytes", defaults.max_response_bytes)),
            max_event_bytes=int(raw.get("max_event_bytes", defaults.max_event_bytes)),
            max_stream_seconds=float(raw.get("max_stream_seconds", defaults.max_stream_seconds)),
            max_stream_bytes=int(raw.get("max_stream_bytes", defaults.max_stream_bytes)),
            description=raw.get("description", ""),
        )

    def _check_transport_keys(
        self, document: SourceDocument, path: tuple[str, str], raw: dict[str, Any]
    ) -> None:
        """Transport settings a kind cannot honour are refused, never silently ignored."""
        refused = _NOT_FOR_KIND.get(raw["kind"], {})
        for key, reason in refused.items():
            if key in raw and not (key == "transport" and raw[key] == "aiohttp" and raw["kind"] == "google"):
                self._problems.append(document.problem((*path, key), reason))

    def _proxy(self, document: SourceDocument, path: tuple[str, str], url: str) -> ProxyAddress | None:
        if not url:  # empty, as `${HTTPS_PROXY:-}` is when unset: no proxy
            return None
        try:
            return ProxyAddress.parse(url)
        except ValueError as exc:
            self._problems.append(document.problem((*path, "proxy"), str(exc)))
            return None

    def _ca_bundle(self, document: SourceDocument, path: tuple[str, str], value: object) -> Path | None:
        """The CA file, relative to the catalog file naming it, checked to hold certificates."""
        if value is None:
            return None
        file = Path(document.file).parent / str(value)
        try:
            ssl.create_default_context(cafile=str(file))
        except OSError as exc:  # missing, unreadable, or not PEM certificates (ssl.SSLError)
            reason = exc.strerror or exc.args[-1] if exc.args else exc
            self._problems.append(
                document.problem((*path, "ca_bundle"), f"no certificates read from {file}: {reason}")
            )
            return None
        return file

    def _add_model(self, document: SourceDocument, name: str, raw: dict[str, Any]) -> None:
        path = ("models", name)
        aliases = tuple(raw.get("aliases") or ())
        for index, alias in enumerate((name, *aliases)):
            alias_path = path if index == 0 else (*path, "aliases", index - 1)
            if not self._claim(document, alias, alias_path, index == 0):
                return
        deployments = self._deployments(document, name, raw)  # claimed first: fallbacks may name it
        problems = list(mode_problems(document, name, raw))
        dated = schedule_problems(raw["pricing"])
        problems += [document.problem((*path, "pricing", *where), why) for where, why in dated]
        self._problems += problems
        if not deployments or problems:
            return
        price, schedule = build_pricing(raw["pricing"])
        self._models[name] = ModelSpec(
            name=name,
            provider_id=deployments[0].provider_id,
            upstream_model=deployments[0].upstream_model,
            price=price,
            schedule=schedule,
            aliases=aliases,
            context_window=raw.get("context_window"),
            max_output_tokens=raw.get("max_output_tokens"),
            description=raw.get("description", ""),
            deployments=tuple(deployments),
            strategy=(raw.get("routing") or {}).get("strategy", "weighted"),
            fallbacks=tuple(raw.get("fallbacks") or ()),
            context_window_fallbacks=tuple(raw.get("context_window_fallbacks") or ()),
            mode=mode_of(raw),
            deprecated_on=_day(raw.get("deprecated_on")),
            retires_on=_day(raw.get("retires_on")),
            replacement=raw.get("replacement"),
            cache=_cache_override(raw.get("cache")),
        )

    def _deployments(self, document: SourceDocument, name: str, raw: dict[str, Any]) -> list[Deployment]:
        """A model's deployments: its `deployments` list, or the one its `provider` names."""
        if ("provider" in raw) == ("deployments" in raw):
            message = "give either 'provider' or 'deployments', not both"
            self._problems.append(document.problem(("models", name), message))
            return []
        self._check_provider_references(document, name, raw)
        entries = raw.get("deployments", [raw])
        if any(entry["provider"] not in self._providers for entry in entries):
            return []  # reported above, or its provider has a problem of its own
        return [
            Deployment(entry["provider"], entry.get("upstream_model", name), float(entry.get("weight", 1)))
            for entry in entries
        ]

    def _check_provider_references(self, document: SourceDocument, name: str, raw: Any) -> None:
        """Report every provider the model names that no file declares, as far as the model's
        shape can be read (it may have problems of its own)."""
        if not self._references_checkable or not isinstance(raw, dict):
            return
        path: JsonPath = ("models", name)
        named = [((*path, "provider"), raw.get("provider"))]
        entries = raw.get("deployments")
        if isinstance(entries, list):
            named += [
                ((*path, "deployments", index, "provider"), entry.get("provider"))
                for index, entry in enumerate(entries)
                if isinstance(entry, dict)
            ]
        for where, provider_id in named:
            if not isinstance(provider_id, str):
                continue
            if provider_id not in self._providers and provider_id not in self._declared_broken:
                declared = ", ".join(sorted({*self._providers, *self._declared_broken})) or "none"
                message = f"unknown provider '{provider_id}' (declared: {declared})"
                self._problems.append(document.problem(where, message))

    def _check_fallbacks(self) -> None:
        """Fallbacks and replacements name models of the catalog of the same mode, never the
        model itself; checked for every model whose references can be read, built or not."""
        entries = {name: raw for _, name, raw in self._model_entries}
        for document, name, raw in self._model_entries:
            for field_name, index, target in _model_references(raw):
                resolved = self._names_to_models.get(str(target))
                if resolved is None and not self._references_checkable:
                    continue
                if resolved is None:
                    message: str | None = f"unknown model '{target}'"
                elif resolved == name:
                    message = (
                        "a model cannot fall back to itself"
                        if index is not None
                        else "a model is not its own replacement"
                    )
                else:
                    message = fallback_mode_mismatch(raw, str(target), entries.get(resolved))
                if message is not None:
                    where: JsonPath = ("models", name, field_name, *(() if index is None else (index,)))
                    self._problems.append(document.problem(where, message))

    def _claim(self, document: SourceDocument, name: str, path: JsonPath, at_key: bool) -> bool:
        """Reserve a model name or alias; two models may not answer to the same name."""
        owner = self._names.get(name)
        if owner is not None:
            message = f"'{name}' is already used by {owner}"
            self._problems.append(document.problem(path, message, at_key=at_key))
            return False
        self._names[name] = f"model '{path[1]}' ({document.file})"
        self._names_to_models[name] = str(path[1])
        return True
