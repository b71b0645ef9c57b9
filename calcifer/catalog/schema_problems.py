"""Schema violations as catalog problems in plain words, and which entries they break.

jsonschema's own messages quote Python reprs (`Decimal('-1.00')`, `{'a': 1}`); a catalog
author wrote YAML, so values are shown as YAML would show them, and containers by kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from jsonschema import ValidationError

from calcifer.catalog.yaml_source import JsonPath, SourceDocument
from calcifer.errors import Problem

__all__ = ["SECTIONS", "broken_entry", "problems_of", "show"]

SECTIONS = ("providers", "models")
_LONGEST_SHOWN = 60


def show(value: object) -> str:
    """A value as its author would recognise it: `-1.00`, `'cheap'`, `true`, `a list`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, str):
        text = value if len(value) <= _LONGEST_SHOWN else value[:_LONGEST_SHOWN] + "…"
        return f"'{text}'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _listed(values: object) -> str:
    items = values if isinstance(values, list) else [values]
    return ", ".join(show(item) for item in items)


def _message(error: ValidationError) -> str:
    value, limit, instance = error.validator, error.validator_value, show(error.instance)
    messages: dict[str, Callable[[], str]] = {
        "type": lambda: f"{instance} is not of type {' or '.join(repr(t) for t in _as_list(limit))}",
        "minimum": lambda: f"{instance} is less than the minimum of {show(limit)}",
        "exclusiveMinimum": lambda: f"{instance} must be greater than {show(limit)}",
        "maximum": lambda: f"{instance} is more than the maximum of {show(limit)}",
        "exclusiveMaximum": lambda: f"{instance} must be less than {show(limit)}",
        "enum": lambda: f"{instance} is not one of: {_listed(limit)}",
        "const": lambda: f"{instance} must be {show(limit)}",
        "pattern": lambda: f"{instance} does not match the pattern '{limit}'",
        "minLength": lambda: f"{instance} is too short (at least {limit} characters)",
        "maxLength": lambda: f"{instance} is too long (at most {limit} characters)",
        "minItems": lambda: f"needs at least {limit} item{'s' if limit != 1 else ''}",
        "maxItems": lambda: f"takes at most {limit} item{'s' if limit != 1 else ''}",
        "uniqueItems": lambda: "has the same item more than once",
        "minProperties": lambda: "must not be empty",
    }
    render = messages.get(str(value))
    return render() if render else f"{instance} is not valid here ({value})"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def problems_of(error: ValidationError, document: SourceDocument) -> Iterator[Problem]:
    path: JsonPath = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        for key in sorted(set(error.instance) - known):
            yield document.problem((*path, key), f"unknown key '{key}'", at_key=True)
        return
    if _is_about_a_name(error):
        yield document.problem((*path, str(error.instance)), f"invalid name: {_message(error)}", at_key=True)
        return
    if error.validator == "required":
        # one error per missing key; its message names that key as a plain string repr
        yield document.problem(path, error.message.replace("property", "key"))
        return
    yield document.problem(path, _message(error))


def _is_about_a_name(error: ValidationError) -> bool:
    """A `propertyNames` rule failed: the key itself, not its value, is wrong."""
    return "propertyNames" in error.relative_schema_path


def broken_entry(error: ValidationError) -> JsonPath | None:
    """The provider or model (`("models", name)`), the section (`("models",)`) or the whole
    file (`()`) that cannot be built because of `error`; None when building is unaffected
    (an unknown key is reported, and the rest of its entry is still checked)."""
    if error.validator == "additionalProperties":
        return None
    path: JsonPath = tuple(error.absolute_path)
    if _is_about_a_name(error) and path in {(s,) for s in SECTIONS}:
        return (*path, str(error.instance))
    if not path or path[0] not in SECTIONS:
        return () if not path else None
    return path[:2]
