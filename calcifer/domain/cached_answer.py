"""A whole answer as the response cache keeps it, and back: the completion, its usage, who
served it and what it cost, and the request it was first the answer to."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from calcifer.domain import cache_json
from calcifer.domain.chat import Completion
from calcifer.domain.usage import usage_document, usage_from_document

__all__ = ["CachedAnswer", "fresh_id"]

_FORMAT = 1


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    completion: Completion
    model: str
    """The served model's name."""
    provider_id: str
    cost: Decimal
    """What the original answer cost: a hit saves it."""
    request_id: str
    """The gateway's id of the request this was first the answer to."""
    stored_at: float
    """Epoch seconds it was stored (a hit's age is measured from here)."""

    def encode(self) -> bytes:
        completion = self.completion
        document = {
            "f": _FORMAT,
            "body": completion.body,
            "usage": usage_document(completion.usage),
            "response_id": completion.response_id,
            "response_model": completion.response_model,
            "finish_reasons": list(completion.finish_reasons),
            "native": completion.native,
            "model": self.model,
            "provider": self.provider_id,
            "cost": str(self.cost),
            "request_id": self.request_id,
            "stored_at": self.stored_at,
        }
        return cache_json.dumps(document)

    @classmethod
    def decode(cls, value: bytes) -> CachedAnswer | None:
        """The answer kept in `value`; None for anything else (another format's entry)."""
        try:
            document: dict[str, Any] = cache_json.loads(value)
            if document.get("f") != _FORMAT:
                return None
            completion = Completion(
                body=document["body"],
                usage=usage_from_document(document["usage"]),
                response_id=document["response_id"],
                response_model=document["response_model"],
                finish_reasons=tuple(document["finish_reasons"]),
                native=bool(document["native"]),
            )
            return cls(
                completion,
                document["model"],
                document["provider"],
                Decimal(document["cost"]),
                document["request_id"],
                float(document["stored_at"]),
            )
        except (ValueError, KeyError, TypeError, ArithmeticError):
            return None

    def age_seconds(self, now: float | None = None) -> int:
        return max(0, int((time.time() if now is None else now) - self.stored_at))

    def replayed(self) -> Completion:
        """The completion with a fresh response id: a replay is a new response."""
        completion, body = self.completion, dict(self.completion.body)
        old = body.get("id")
        new_id = fresh_id(old) if isinstance(old, str) else None
        if new_id is not None:
            body["id"] = new_id
        return Completion(
            body,
            completion.usage,
            new_id or completion.response_id,
            completion.response_model,
            completion.finish_reasons,
            completion.native,
        )


def fresh_id(old: str) -> str:
    """A new id shaped like `old`: its prefix (`chatcmpl-`, `msg_`, `resp_`) and random hex."""
    cuts = [at for at in (old.find("-"), old.find("_")) if at >= 0]
    prefix = old[: min(cuts) + 1] if cuts else ""
    return prefix + os.urandom(12).hex()
