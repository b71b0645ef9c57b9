"""The serving catalog of one worker, its safe replacement while requests are in flight, and
how the workers of a machine reload together.

A reload validates the catalog files first; a catalog with problems never replaces the one
serving (its `file:line` problems are logged and returned). A valid one is built into a new
`CatalogScope` and swapped in with one assignment: a request uses the scope it started on to
its end, and a replaced scope hands its adapters back once its last request has finished.
Deployment health and unchanged providers' adapters belong to the process and carry over.

Workers reload together: a worker that reloaded raises the machine's catalog generation, and
every worker checks it twice a second; SIGHUP (to a worker or the manager) and the file watch
reach each worker directly.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger

from calcifer.catalog import Catalog, catalog_files, load_catalog
from calcifer.errors import CatalogError
from calcifer.runtime.catalog_scope import CatalogScope
from calcifer.runtime.process_scope import ProcessScope

__all__ = ["ReloadResult", "Runtime"]

GENERATION_CHECK_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class ReloadResult:
    reloaded: bool
    catalog_version: str
    problems: list[str] = field(default_factory=list)


class Runtime:
    def __init__(self, process: ProcessScope, catalog: Catalog) -> None:
        self._process = process
        self._settings = process.settings
        self._lock = asyncio.Lock()
        self._retired: set[CatalogScope] = set()
        self._fingerprint = _fingerprint(self._settings.catalog_path)
        self._generation = process.generation.current()
        self._stop = asyncio.Event()
        self._current = CatalogScope(process, catalog)

    @property
    def current(self) -> CatalogScope:
        return self._current

    async def reload(self, reason: str, *, tell_others: bool = True) -> ReloadResult:
        async with self._lock:
            self._fingerprint = _fingerprint(self._settings.catalog_path)
            try:
                catalog = load_catalog(self._settings.catalog_path, self._settings.environment)
            except CatalogError as exc:
                problems = [str(problem) for problem in exc.problems]
                logger.warning(
                    "catalog reload ({}) refused; still serving {}:\n{}",
                    reason,
                    self._current.catalog_version,
                    "\n".join(problems),
                )
                return ReloadResult(False, self._current.catalog_version, problems)
            if catalog.version == self._current.catalog_version:
                return ReloadResult(False, catalog.version)
            old, self._current = self._current, CatalogScope(self._process, catalog)
            self._process.health.keep_only(self._current.identities())
            if tell_others:
                self._generation = self._process.generation.advance()
            logger.info(
                "catalog reloaded ({}): {} -> {}, {} models",
                reason,
                old.catalog_version,
                catalog.version,
                len(catalog.models),
            )
            self._retire(old)
            return ReloadResult(True, catalog.version)

    async def watch(self, file_interval: float) -> None:
        """Until `stop_watching`: follow the other workers' reloads, and reload when the catalog
        files change (names, sizes or mtimes) every `file_interval` seconds (0: never)."""
        loop = asyncio.get_running_loop()
        next_file_check = loop.time() + file_interval
        tick = min(GENERATION_CHECK_SECONDS, file_interval or GENERATION_CHECK_SECONDS)
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=tick)
            except TimeoutError:
                await self._follow_others()
                if file_interval > 0 and loop.time() >= next_file_check:
                    next_file_check = loop.time() + file_interval
                    if _fingerprint(self._settings.catalog_path) != self._fingerprint:
                        await self.reload("catalog files changed")

    def stop_watching(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        for scope in (*self._retired, self._current):
            await scope.close()
        self._retired.clear()

    async def _follow_others(self) -> None:
        generation = self._process.generation.current()
        if generation != self._generation:
            self._generation = generation
            await self.reload("another worker reloaded", tell_others=False)

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
