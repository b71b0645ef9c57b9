"""A model's lifecycle at routing: deprecated served with a notice an hour, retired refused with
its replacement named, or routed to it when the operator opts in (following retired chains)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from loguru import logger

from calcifer.domain.lifecycle import Lifecycle, lifecycle_headers
from calcifer.domain.models import ModelSpec
from calcifer.domain.pricing import Price
from calcifer.domain.routing import ModelRouter
from calcifer.errors import ModelRetired

TODAY = date(2026, 12, 1)
PRICE = Price(Decimal(1), Decimal(2))
NEW = ModelSpec("new", "p", "new", PRICE)
OLD = replace(NEW, name="old", retires_on=date(2026, 11, 1), replacement="mid")
MID = replace(NEW, name="mid", retires_on=date(2026, 12, 1), replacement="new")
WORN = replace(
    NEW, name="worn", deprecated_on=date(2026, 6, 1), retires_on=date(2027, 1, 5), replacement="new"
)


def router(route_retired: bool, clock: list[float] | None = None) -> ModelRouter:
    times = clock if clock is not None else [0.0]
    lifecycle = Lifecycle(route_retired, today=lambda: TODAY, clock=lambda: times[0])
    return ModelRouter([NEW, OLD, MID, WORN], lifecycle)


def test_a_retired_model_is_refused_naming_its_replacement() -> None:
    with pytest.raises(ModelRetired) as refused:
        router(False).route("mid")
    assert str(refused.value) == "The model 'mid' was retired on 2026-12-01; use 'new' instead"


def test_routed_on_a_retired_model_goes_to_its_first_serving_successor() -> None:
    assert router(True).route("old").name == "new"  # old → mid (retired today too) → new


def test_a_cycle_of_retired_replacements_is_refused_not_looped() -> None:
    a = replace(NEW, name="a", retires_on=date(2020, 1, 1), replacement="b")
    b = replace(NEW, name="b", retires_on=date(2020, 1, 1), replacement="a")
    with pytest.raises(ModelRetired):
        ModelRouter([a, b], Lifecycle(True, today=lambda: TODAY)).route("a")


def test_a_deprecated_model_is_served_and_noticed_once_an_hour() -> None:
    lines: list[str] = []
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    clock = [0.0]
    try:
        routing = router(False, clock)
        for now in (0.0, 10.0, 3599.0, 3600.0):
            clock[0] = now
            assert routing.route("worn").name == "worn"
    finally:
        logger.remove(sink)
    assert [line.strip() for line in lines] == [
        "model 'worn' is deprecated since 2026-06-01, retires on 2027-01-05; use 'new'"
    ] * 2


def test_headers_only_once_deprecated() -> None:
    assert lifecycle_headers(WORN, date(2026, 5, 31)) == {}
    assert lifecycle_headers(WORN, TODAY) == {
        "Deprecation": "@1780272000",
        "Sunset": "Tue, 05 Jan 2027 00:00:00 GMT",
        "Link": '</v1/models/new>; rel="successor-version"',
    }
