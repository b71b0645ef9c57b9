"""The documents users read agree with what the gateway does."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from calcifer.http.errors import ERROR_TABLE

ROOT = Path(__file__).resolve().parent.parent

# Codes a client meets only in a gateway's own failure or in a stream it left: not a table row.
NOT_IN_THE_README = {"internal_error", "client_closed_request", "upstream_error", "access_denied"}


def test_the_readme_error_table_names_every_error_code_the_gateway_answers_with() -> None:
    readme = (ROOT / "README.md").read_text()
    table = "\n".join(line for line in readme.splitlines() if line.startswith("| "))
    documented = set(re.findall(r"`([a-z_]+)`", table))
    codes = {row.code for row in ERROR_TABLE.values()} - NOT_IN_THE_README
    assert sorted(codes - documented) == []


def test_every_shipped_catalog_file_says_when_its_prices_were_read() -> None:
    for file in sorted((ROOT / "catalog").glob("*.yaml")):
        document = yaml.safe_load(file.read_text())
        assert document.get("prices_as_of"), f"{file.name} has no prices_as_of"

