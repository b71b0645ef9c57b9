"""The running catalog of one worker, and its safe replacement while requests are in flight.

A reload validates the catalog files first; a catalog with problems never replaces the one
serving (its `file:line` problems are logged and returned). A valid one is built whole into
a new `Api` (router, prices, balancer, provider clients) and swapped in with one assignment:
a request uses the `Api` it started with to its end, and a replaced one closes its provider
clients once its last request has finished.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger

from calcifer.catalog import Catalog, catalog_files, load_catalog
from calcifer.errors import CatalogError
from calcifer.http.handlers import Api
from calcifer.settings import Settings

__all__ = ["ReloadResult", "Runtime"]


@dataclass(frozen=True, slots=True)
class ReloadResult:
    reloaded: bool
    catalog_version: str
    problems: list[str] = field(default_factory=list)


class Runtime:
    def __init__(self, settings: Settings, catalog: Catalog, build: Callable[[Catalog], Api]) -> None:
        self._settings = settings
        self._build = build
        self._catalog = catalog
        self._current: Api | None = None
        self._lock = asyncio.Lock()
        self._retired: set[Api] = set()
        self._fingerprint = _fingerprint(settings.catalog_path)
        self._stop_watching = asyncio.Event()

    @property
    def current(self) -> Api:
        assert self._current is not None, "the runtime is started with the server"
        return self._current

    def start(self) -> None:
        self._current = self._build(self._catalog)

    async def reload(self, reason: str) -> ReloadResult:
        async with self._lock:
            self._fingerprint = _fingerprint(self._settings.catalog_path)
            try:
                catalog = load_catalog(self._settings.catalog_path, self._settings.environment)
            except CatalogError as exc:
                problems = [str(problem) for problem in exc.problems]
                logger.warning(
                    "catalog reload ({}) refused; still serving {}:\n{}",
                    reason,
                    self.current.catalog_version,
                    "\n".join(problems),
                )
                return ReloadResult(False, self.current.catalog_version, problems)
            if catalog.version == self.current.catalog_version:
                return ReloadResult(False, catalog.version)
            old, self._current = self.current, self._build(catalog)
            logger.info(
                "catalog reloaded ({}): {} -> {}, {} models",
                reason,
                old.catalog_version,
                catalog.version,
                len(catalog.models),
            )
            self._retire(old)
            return ReloadResult(True, catalog.version)

    async def watch(self, interval: float) -> None:
        """Reload whenever the catalog files change (their names, sizes or mtimes), until
        `stop_watching` (a task that ends on its own is not reported as cut short at exit)."""
        while not self._stop_watching.is_set():
            try:
                await asyncio.wait_for(self._stop_watching.wait(), timeout=interval)
            except TimeoutError:
                if _fingerprint(self._settings.catalog_path) != self._fingerprint:
                    await self.reload("catalog files changed")

    def stop_watching(self) -> None:
        self._stop_watching.set()

    async def close(self) -> None:
        for api in (*self._retired, self.current):
            await api.close()

    def _retire(self, api: Api) -> None:
        self._retired.add(api)

        async def close_when_drained() -> None:
            await api.drained()
            await api.close()
            self._retired.discard(api)

        asyncio.get_running_loop().create_task(close_when_drained())


def _fingerprint(path: Path) -> tuple[tuple[str, int, int], ...]:
    try:
        return tuple(
            (str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in catalog_files(path) if f.exists()
        )
    except OSError:
        return ()
