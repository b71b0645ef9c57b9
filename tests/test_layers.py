"""No import runs upward: each package imports only from the layers beneath it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "calcifer"

BASE = {"errors"}
ALLOWED: dict[str, set[str]] = {
    "domain": BASE | {"domain"},
    "catalog": BASE | {"catalog", "domain"},
    "formats": BASE | {"formats", "domain"},
    "state": BASE | {"state", "domain"},
    "transport": BASE | {"transport", "catalog"},
    "providers": BASE | {"providers", "transport", "formats", "domain", "catalog"},
    "telemetry": BASE | {"telemetry", "domain", "settings"},
    "http": BASE | {"http", "domain", "formats", "settings", "telemetry"},
    "store": BASE | {"store", "domain", "settings"},
    "runtime": BASE
    | {"runtime", "domain", "catalog", "providers", "transport", "state", "http", "telemetry", "settings"}
    | {"store"},
}


def imported_layers(path: Path) -> set[str]:
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "calcifer" and len(parts) > 1:
                layers.add(parts[1].removesuffix(".py"))
    return layers


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_from_beneath_it(layer: str) -> None:
    wrong = {
        f"{path.relative_to(PACKAGE)} imports calcifer.{imported}"
        for path in (PACKAGE / layer).rglob("*.py")
        for imported in imported_layers(path) - ALLOWED[layer]
    }
    assert not wrong, sorted(wrong)
