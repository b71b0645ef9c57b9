"""How a config.yaml section or an environment variable becomes typed settings: strict
(an unknown key is an error), each value given the type of its field's default."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from calcifer.errors import ConfigurationError

__all__ = ["build_section", "coerce_env", "override", "reject_unknown"]

_T = TypeVar("_T")


def reject_unknown(section: object, known: set[str], where: str) -> None:
    if not isinstance(section, dict):
        raise ConfigurationError(f"{where}: expected a mapping")
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigurationError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")


def build_section(cls: type[_T], section: object, where: str) -> _T:
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    reject_unknown(section, known, where)
    assert isinstance(section, dict)
    defaults = cls()
    values = {key: _coerce(getattr(defaults, key), value, f"{where}.{key}") for key, value in section.items()}
    return cls(**values)


def _coerce(default: object, value: object, where: str) -> object:
    """Give `value` the type of the field's default, or explain why it cannot."""
    try:
        if isinstance(default, bool):
            return _parse_bool(value)
        if isinstance(default, Decimal):
            return _parse_decimal(value)
        if isinstance(default, int):
            return int(str(value))
        if isinstance(default, float):
            return float(str(value))
        if isinstance(default, tuple):
            return _parse_list(value)
        if default is None or isinstance(default, str):
            if isinstance(value, bool):  # YAML's `false` for a word setting such as auth.required
                return "true" if value else "false"
            return None if value is None else str(value)
    except ValueError as exc:
        raise ConfigurationError(f"{where}: {exc}") from exc
    return value


def _parse_decimal(value: object) -> Decimal:
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"expected a decimal number, got {value!r}") from None


def _parse_bool(value: object) -> bool:
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off"}:
        return False
    raise ValueError(f"expected a boolean, got {value!r}")


def _parse_list(value: object) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(item).strip() for item in value)
    return tuple(part.strip() for part in str(value).split(",") if part.strip())


def override(
    current: _T, env: Mapping[str, str], table: dict[str, str], parse: Callable[[str, object, str], object]
) -> _T:
    changes = {
        attr: parse(variable, getattr(current, attr), env[variable])
        for variable, attr in table.items()
        if env.get(variable, "").strip()
    }
    return replace(current, **changes) if changes else current  # type: ignore[type-var]


def coerce_env(name: str, default: object, raw: str) -> object:
    return _coerce(default, raw.strip(), f"environment {name}")
