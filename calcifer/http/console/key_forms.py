"""The console's key and team forms ↔ admin API bodies: the admin API's own checks then apply
(a bad budget or limit is its 400, shown on the page)."""

from __future__ import annotations

from typing import Any

from calcifer.errors import InvalidRequest
from calcifer.http.console.layout import esc

__all__ = ["budget_limit_inputs", "key_body", "limits_body", "team_body"]

_PERIODS = ("total", "day", "month")


def key_body(form: dict[str, str], creating: bool) -> dict[str, Any]:
    body: dict[str, Any] = {**_budget_and_limits(form)}
    if creating:
        body["name"] = form.get("name", "")
        body["team_id"] = form.get("team_id") or None
        body["user"] = form.get("user") or None
        models = [name.strip() for name in form.get("models", "").split(",") if name.strip()]
        body["models"] = models
        body["expires_at"] = form.get("expires_at") or None
    return body


def team_body(form: dict[str, str], creating: bool) -> dict[str, Any]:
    body: dict[str, Any] = {**_budget_and_limits(form)}
    if creating:
        body["name"] = form.get("name", "")
    return body


def _budget_and_limits(form: dict[str, str]) -> dict[str, Any]:
    amount = form.get("budget_usd", "")
    budget = None if not amount else {"max_usd": amount, "period": form.get("budget_period") or "total"}
    return {"budget": budget, "limits": limits_body(form)}


def limits_body(form: dict[str, str]) -> dict[str, int | None]:
    limits: dict[str, int | None] = {}
    for name in ("rpm", "tpm", "max_parallel"):
        text = form.get(name, "")
        if text and not text.isdigit():
            raise InvalidRequest(f"'limits.{name}' must be a positive whole number", param=f"limits.{name}")
        limits[name] = int(text) if text else None
    return limits


def budget_limit_inputs(view: dict[str, Any], prefix: str) -> str:
    """Inputs for a budget and limits, filled with `view`'s (a key or team view) current ones."""
    budget = view.get("budget") or {}
    limits = view.get("limits") or {}
    period = budget.get("period", "total")
    options = "".join(
        f'<option value="{p}"{" selected" if p == period else ""}>{p}</option>' for p in _PERIODS
    )
    amount = budget.get("max_usd")
    fields = [
        f'<label>Budget USD <input name="budget_usd" id="{prefix}-budget" inputmode="decimal" '
        f'value="{esc(amount) if amount is not None else ""}" placeholder="none"></label>',
        f'<label>Period <select name="budget_period">{options}</select></label>',
    ]
    for name, label in (("rpm", "Requests/min"), ("tpm", "Tokens/min"), ("max_parallel", "Parallel")):
        value = limits.get(name)
        fields.append(
            f'<label>{label} <input name="{name}" id="{prefix}-{name}" inputmode="numeric" '
            f'value="{esc(value) if value is not None else ""}" placeholder="none"></label>'
        )
    return "".join(fields)
