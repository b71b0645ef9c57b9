"""A model's price lists over time: the list in force when a request started prices it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from calcifer.domain.pricing import Price

__all__ = ["PriceSchedule"]


@dataclass(frozen=True, slots=True)
class PriceSchedule:
    """Price lists in `effective_from` order; the first may have none (in force since always)."""

    lists: tuple[Price, ...]

    def __post_init__(self) -> None:
        if not self.lists:
            raise ValueError("a price schedule needs at least one list")

    def at(self, moment: datetime) -> Price:
        """The list in force at `moment` (UTC days): the last one whose day has come; the
        first when none has (a request before the first date is priced by the first list)."""
        day = moment.astimezone(UTC).date()
        chosen = self.lists[0]
        for price in self.lists[1:]:
            if price.effective_from is not None and price.effective_from <= day:
                chosen = price
        return chosen

    def current(self) -> Price:
        return self.at(datetime.now(UTC))

    @staticmethod
    def version(catalog_version: str, price: Price) -> str:
        """What the ledger records as the price version: the catalog and the list's date."""
        day: date | None = price.effective_from
        return catalog_version if day is None else f"{catalog_version}@{day.isoformat()}"
