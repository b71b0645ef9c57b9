"""What the store needs from a database: run statements in one transaction, on a connection
it does not block the event loop with (`sqlite_db`, `postgres_db`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from calcifer.store.schema import PICO_DIGITS, PICO_PER_USD, Dialect

__all__ = ["Codec", "Database", "Result", "Statement", "from_micros", "pico", "to_micros"]


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQL statement with `?` placeholders; `many`: run once per parameter row."""

    sql: str
    params: Sequence[Any] = ()
    many: bool = False


@dataclass(frozen=True, slots=True)
class Result:
    rows: list[Sequence[Any]]
    rowcount: int


class Database(Protocol):
    codec: Codec

    async def run(self, statements: Sequence[Statement], *, write: bool = True) -> list[Result]:
        """All statements in one transaction (a consistent snapshot when not `write`)."""

    async def aclose(self) -> None: ...


class Codec:
    """How values travel to and from one dialect's columns (see `calcifer.store.schema`)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.sqlite = dialect == "sqlite"

    def time_in(self, value: datetime | None) -> Any:
        if value is None:
            return None
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return to_micros(value) if self.sqlite else value

    def time_out(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if self.sqlite:
            return from_micros(int(value))
        assert isinstance(value, datetime)
        return value.astimezone(UTC)

    def money_in(self, value: Decimal | None) -> Any:
        if value is None:
            return None
        return str(value) if self.sqlite else value

    def money_out(self, value: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value)) if self.sqlite else Decimal(value)

    def flag_in(self, value: bool) -> Any:
        return int(value) if self.sqlite else value

    def cost_sum(self, prefix: str = "") -> str:
        """The SQL that sums a table's cost exactly."""
        return self.money_sum("cost", prefix)

    def money_sum(self, name: str, prefix: str = "") -> str:
        """The SQL that sums a money column (`cost`, `saved`) exactly."""
        column = f"{prefix}{name}_pico" if self.sqlite else f"{prefix}{name}_usd"
        return f"COALESCE(SUM({column}), 0)"

    def summed_cost(self, value: Any) -> Decimal:
        if self.sqlite:
            return Decimal(int(value)).scaleb(-PICO_DIGITS)
        return Decimal(value)


def to_micros(value: datetime) -> int:
    delta = value.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def pico(value: Decimal) -> int:
    """USD as an integer count of 1e-12 USD (rounded half-even past the twelfth decimal)."""
    return int((value * PICO_PER_USD).to_integral_value())


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
