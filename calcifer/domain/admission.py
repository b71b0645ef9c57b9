"""Reserve before serving, settle after: budgets and rate limits for one request.

Before the upstream call, the request's cost is estimated (its prompt priced at input, plus
its `max_tokens` — or the model's output limit — priced at output) and held, capped at
`max_hold_usd`, against every budget that applies, together with its tokens and one request
against the rate limits, in one all-or-nothing step (`Counters.admit`). After the call the
exact cost replaces the hold (`settle`), on every exit path. The cap keeps agents that ask
for huge `max_tokens` from being refused at no real spend; the price of it is that one
request can overshoot a budget by at most its own cost beyond the cap.
"""

from __future__ import annotations

import time
from decimal import Decimal

from loguru import logger

from calcifer.domain.access import Principal
from calcifer.domain.chat import ChatRequest
from calcifer.domain.dialect import Dialect
from calcifer.domain.embeddings import embedding_inputs
from calcifer.domain.estimate import input_tokens, prompt_characters
from calcifer.domain.models import ModelSpec
from calcifer.domain.ports import Counters, Demand, Hold
from calcifer.domain.usage import Usage
from calcifer.errors import LimitsUnavailable, ModelNotAllowed

__all__ = ["DEFAULT_OUTPUT_TOKENS", "Admission", "RequestEstimate", "estimate_request"]

DEFAULT_OUTPUT_TOKENS = 4096
"""Output assumed when neither the request nor the model gives a limit."""
_CHARACTERS_A_TOKEN = 3
"""A little fewer than the usual four: an estimate that holds too little lets a budget be
overshot, one that holds a little too much is released a moment later."""
_UNAVAILABLE_LOG_SECONDS = 60.0


class RequestEstimate:
    __slots__ = ("cost_usd", "tokens")

    def __init__(self, cost_usd: Decimal, tokens: int) -> None:
        self.cost_usd = cost_usd
        self.tokens = tokens


def estimate_request(request: ChatRequest, model: ModelSpec) -> RequestEstimate:
    """The most the request is expected to cost and use, before it is sent (an embeddings
    request: its input, and nothing generated)."""
    body = request.body
    if request.dialect is Dialect.EMBEDDINGS:
        tokens = input_tokens(embedding_inputs(body), _CHARACTERS_A_TOKEN)
        return RequestEstimate(model.price.cost(Usage(input_tokens=tokens)), tokens)
    prompt_tokens = -(-prompt_characters(request.messages) // _CHARACTERS_A_TOKEN) + 8
    asked = body.get("max_completion_tokens") or body.get("max_tokens")
    output_tokens = asked if isinstance(asked, int) else (model.max_output_tokens or DEFAULT_OUTPUT_TOKENS)
    cost = model.price.cost(Usage(input_tokens=prompt_tokens, output_tokens=output_tokens))
    return RequestEstimate(cost, prompt_tokens + output_tokens)


class Admission:
    """What the serving path calls; `counters` is None when no caller can have limits."""

    def __init__(
        self,
        counters: Counters | None,
        max_hold_usd: Decimal,
        fail_open: bool,
    ) -> None:
        self._counters = counters
        self._max_hold = max_hold_usd
        self._fail_open = fail_open
        self._logged_at = -_UNAVAILABLE_LOG_SECONDS
        self.limits_unavailable = False
        """The counters could not be reached at the last admission that needed them."""

    async def admit(
        self, request_id: str, principal: Principal, request: ChatRequest, model: ModelSpec
    ) -> Hold | None:
        """Refuses (ModelNotAllowed, BudgetExceeded, KeyRateLimited, LimitsUnavailable) or
        returns what must be settled; None when nothing was reserved."""
        if principal.models and not principal.may_call((model.name, *model.aliases)):
            raise ModelNotAllowed(
                f"This key may not call the model '{request.model}'", scope=f"key:{principal.id}"
            )
        if not principal.scopes or self._counters is None:
            return None
        estimate = estimate_request(request, model)
        hold_usd = min(estimate.cost_usd, self._max_hold)
        demands = tuple(Demand(scope, hold_usd, estimate.tokens) for scope in principal.scopes)
        try:
            hold = await self._counters.admit(request_id, demands)
        except LimitsUnavailable as error:
            self._unavailable(error)
            if self._fail_open:
                return None
            raise
        self.limits_unavailable = False
        return hold

    async def settle(self, hold: Hold, cost_usd: Decimal, tokens: int) -> None:
        if self._counters is not None and not hold.settled:
            await self._counters.settle(hold, cost_usd, tokens)

    def _unavailable(self, error: LimitsUnavailable) -> None:
        self.limits_unavailable = True
        now = time.monotonic()
        if now - self._logged_at >= _UNAVAILABLE_LOG_SECONDS:
            self._logged_at = now
            mode = (
                "serving without limits (fail_mode: open)"
                if self._fail_open
                else "refusing (fail_mode: closed)"
            )
            logger.error("budgets and rate limits cannot be checked: {}; {}", error, mode)
