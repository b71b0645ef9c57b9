"""Workers reload together through the catalog signal, even one that started on stale files.

Two `Runtime`s in one process stand for two workers; they share a catalog signal as the
workers of a machine share theirs (`tests/e2e/test_workers.py` runs the real thing)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from calcifer.catalog import Catalog, load_catalog
from calcifer.runtime import Runtime
from calcifer.runtime.process_scope import LocalCatalogSignal, ProcessScope
from calcifer.settings import Settings
from calcifer.telemetry.tracing import build_tracer_provider

ECHO = """
providers:
  echo: {{kind: echo}}
models:
  {name}:
    provider: echo
    pricing: {{input: 1, output: 1}}
"""


def worker(settings: Settings, signal: LocalCatalogSignal, catalog: Catalog | None = None) -> Runtime:
    process = ProcessScope.build(settings, build_tracer_provider(settings.telemetry), None)
    process.catalog_signal = signal
    return Runtime(process, catalog or load_catalog(settings.catalog_path, settings.environment))


def test_a_worker_that_started_on_stale_files_catches_up_and_a_stale_publication_is_corrected(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(ECHO.format(name="echo-old"))
    settings = Settings(catalog_path=path)

    async def scenario() -> None:
        signal = LocalCatalogSignal()
        first = worker(settings, signal)
        stale_catalog = load_catalog(path, {})  # the second worker read the files early...
        path.write_text(ECHO.format(name="echo-new"))
        assert (await first.reload("admin endpoint")).reloaded  # ...and the first reloaded meanwhile
        second = worker(settings, signal, stale_catalog)
        await second._follow_others()
        assert second.current.catalog_version == first.current.catalog_version

        signal.publish(stale_catalog.version)  # a late worker announces what it read long ago
        await first._follow_others()  # the files say otherwise: the first corrects the signal
        await second._follow_others()
        assert signal.version() == first.current.catalog_version == second.current.catalog_version
        for runtime in (first, second):
            await runtime.close()

    asyncio.run(scenario())
