"""The serving catalog of one worker, its safe replacement while requests are in flight, and
how the workers of a machine reload together.

A reload validates the catalog files first; a catalog with problems never replaces the one
serving (its `file:line` problems are logged and returned). A valid one is built into a new
`CatalogScope` and swapped in with one assignment: a request uses the scope it started on to
its end, and a replaced scope hands its adapters back once its last request has finished.
Deployment health and unchanged providers' adapters belong to the process and carry over.

Workers reload together: a worker that reloaded publishes the catalog version it now serves on
the machine's catalog signal, and every worker checks the signal twice a second, reloading
from the files when the published version is not the one it serves (the files are the truth:
when they give a worker what it already serves, it publishes that instead). SIGHUP (to a
worker or the manager) and the file watch reach each worker directly.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from loguru import logger

from calcifer.catalog import Catalog, catalog_files, load_catalog
from calcifer.errors import CatalogError
from calcifer.runtime.catalog_scope import CatalogScope
from calcifer.runtime.process_scope import ProcessScope

__all__ = ["ReloadAttempt", "ReloadResult", "Runtime"]

SIGNAL_CHECK_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class ReloadResult:
    reloaded: bool
    catalog_version: str
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ReloadAttempt:
    """The last reload this worker tried: when, why, and how it went (for `/health?detail=1`)."""

    at: str
    reason: str
    result: ReloadResult

    def snapshot(self) -> dict[str, object]:
        return {
            "at": self.at,
            "reason": self.reason,
            "reloaded": self.result.reloaded,
            "catalog_version": self.result.catalog_version,
            "problems": self.result.problems,
        }


class Runtime:
    def __init__(self, process: ProcessScope, catalog: Catalog) -> None:
        self._process = process
        self._settings = process.settings
        self._signal = process.catalog_signal
        self._lock = asyncio.Lock()
        self._retired: set[CatalogScope] = set()
        self._fingerprint = _fingerprint(self._settings.catalog_path)
        self._stop = asyncio.Event()
        self.last_reload: ReloadAttempt | None = None
        self._current = CatalogScope(process, catalog)
        self._seen = self._first_look(catalog.version)

    @property
    def current(self) -> CatalogScope:
        return self._current

    async def reload(self, reason: str, *, tell_others: bool = True) -> ReloadResult:
        result = await self._reload(reason, tell_others)
        if result.reloaded or result.problems:  # an unchanged catalog is not worth reporting
            stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            self.last_reload = ReloadAttempt(stamp, reason, result)
        return result

    async def _reload(self, reason: str, tell_others: bool) -> ReloadResult:
        async with self._lock:
            self._fingerprint = _fingerprint(self._settings.catalog_path)
            serving = self._current.catalog_version
            try:
                catalog = load_catalog(self._settings.catalog_path, self._settings.environment)
            except CatalogError as exc:
                problems = [str(problem) for problem in exc.problems]
                logger.warning(
                    "catalog reload ({}) refused; still serving {}:\n{}", reason, serving, "\n".join(problems)
                )
                return ReloadResult(False, serving, problems)
            if catalog.version == serving:
                return ReloadResult(False, serving)
            built = self._build(catalog, reason)
            if isinstance(built, ReloadResult):
                return built
            self._swap(built, reason)
            if tell_others:
                self._seen = self._signal.publish(catalog.version)
            return ReloadResult(True, catalog.version)

    async def watch(self, file_interval: float) -> None:
        """Until `stop_watching`: follow the other workers' reloads, and reload when the catalog
        files change (names, sizes or mtimes) every `file_interval` seconds (0: never)."""
        loop = asyncio.get_running_loop()
        next_file_check = loop.time() + file_interval
        tick = min(SIGNAL_CHECK_SECONDS, file_interval or SIGNAL_CHECK_SECONDS)
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=tick)
            except TimeoutError:
                files_due = file_interval > 0 and loop.time() >= next_file_check
                if files_due:
                    next_file_check = loop.time() + file_interval
                await self._check(files_due)

    def stop_watching(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        scopes, self._retired = [*self._retired, self._current], set()
        for scope in scopes:
            await scope.close()

    async def _check(self, files_due: bool) -> None:
        try:
            await self._follow_others()
            if files_due and _fingerprint(self._settings.catalog_path) != self._fingerprint:
                await self.reload("catalog files changed")
        except Exception:  # noqa: BLE001 - a bug in one check must not end the watch
            serving = self._current.catalog_version
            logger.opt(exception=True).error("catalog check failed; still serving {}", serving)

    def _first_look(self, version: str) -> int:
        """The generation this worker has followed so far. The first worker up publishes its
        catalog; a worker that starts while another has reloaded (the files changed after this
        one read them) marks the signal unseen, to compare at its first check."""
        published = self._signal.version()
        if not published:
            return self._signal.publish(version)
        return self._signal.generation() if published == version else -1

    async def _follow_others(self) -> None:
        generation = self._signal.generation()
        if generation == self._seen:
            return
        self._seen = generation
        if self._signal.version() == self._current.catalog_version:
            return
        result = await self.reload("another worker serves another catalog", tell_others=False)
        if not result.reloaded and not result.problems:
            # The files hold what this worker serves: the published version is the stale one
            # (a worker that read the files before they changed); the others must follow this.
            self._seen = self._signal.publish(self._current.catalog_version)

    def _build(self, catalog: Catalog, reason: str) -> CatalogScope | ReloadResult:
        try:
            return CatalogScope(self._process, catalog)
        except Exception as exc:  # noqa: BLE001 - an adapter that cannot be built: keep serving
            serving = self._current.catalog_version
            logger.opt(exception=True).error("catalog reload ({}) failed; still serving {}", reason, serving)
            return ReloadResult(False, serving, [f"the catalog could not be built: {type(exc).__name__}"])

    def _swap(self, scope: CatalogScope, reason: str) -> None:
        old, self._current = self._current, scope
        self._process.health.keep_only(scope.identities())
        logger.info(
            "catalog reloaded ({}): {} -> {}, {} models",
            reason,
            old.catalog_version,
            scope.catalog_version,
            len(scope.catalog.models),
        )
        self._retire(old)

    def _retire(self, scope: CatalogScope) -> None:
        self._retired.add(scope)

        async def close_when_drained() -> None:
            await scope.drained()
            if scope in self._retired:
                self._retired.discard(scope)
                await scope.close()

        asyncio.get_running_loop().create_task(close_when_drained())


def _fingerprint(path: Path) -> tuple[tuple[str, int, int], ...]:
    try:
        return tuple(
            (str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in catalog_files(path) if f.exists()
        )
    except OSError:
        return ()
