"""The contract every provider adapter implements, and how it declares what it does with
each OpenAI chat parameter.

An adapter turns a `ChatRequest` into its vendor's API call and the vendor's answer
back into chat-completions objects. Every implementation guarantees:

- `complete` returns a `Completion` whose `usage` is in disjoint buckets (see `Usage`).
- `stream` is an async generator of `Chunk`s; exactly one chunk carries `usage` when
  the provider reports it, and it comes after the last content chunk. Closing the
  generator (or cancelling the task iterating it) closes the upstream connection at once.
- Any failure is raised as a `calcifer.errors.UpstreamError` subclass; no vendor or
  transport exception escapes.
- `parameters` names, for every OpenAI chat parameter, whether the adapter forwards it,
  translates it (and to what) or refuses it, and which fields outside that list it passes
  on. The gateway checks each request against it before any call (`ParameterPolicy.check`),
  so nothing is silently dropped.
- `embed` returns the vectors of an embeddings request (`dialect=EMBEDDINGS`) with their
  usage in the input bucket; an adapter whose vendor has no embeddings says so in its
  policy (`ParameterPolicy.embeddings` None), and the gateway refuses such a request before
  any call.
- `aclose` releases what the adapter holds of its own (the connection pools belong to the
  worker); it is called once, when no catalog uses the adapter any more (a reload that changed
  its provider's settings, or the worker stopping).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from calcifer.domain.chat import ChatRequest, Chunk, Completion
from calcifer.domain.dialect import Dialect
from calcifer.domain.embeddings import Embeddings, embedding_inputs, is_token_input
from calcifer.domain.models import ModelSpec
from calcifer.errors import UnsupportedFeature

__all__ = [
    "CHAT_PARAMETERS",
    "EMBEDDING_FIELDS",
    "FORWARD_ALL",
    "EmbeddingPolicy",
    "Handling",
    "OtherFields",
    "ParameterPolicy",
    "ParameterRule",
    "Provider",
    "UpstreamCall",
    "forwarded",
    "refused",
    "translated",
]

# Every parameter of OpenAI's chat-completions request (the `openai` SDK's
# `CompletionCreateParams`, legacy `functions`/`function_call` included). A test compares
# this list with the installed SDK's, so a parameter OpenAI adds cannot go unnoticed.
CHAT_PARAMETERS = frozenset(
    {
        "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
        "max_completion_tokens", "max_tokens", "messages", "metadata", "modalities", "model",
        "moderation", "n", "parallel_tool_calls", "prediction", "presence_penalty",
        "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention", "reasoning_effort",
        "response_format", "safety_identifier", "seed", "service_tier", "stop", "store", "stream",
        "stream_options", "temperature", "tool_choice", "tools", "top_logprobs", "top_p", "user",
        "verbosity", "web_search_options",
    }
)  # fmt: skip


EMBEDDING_FIELDS = frozenset({"model", "input", "dimensions", "encoding_format", "user"})
"""The fields of OpenAI's embeddings request (`EmbeddingCreateParams`)."""


class Handling(StrEnum):
    FORWARDED = "forwarded"
    """Sent to the vendor under the same name, with the same meaning."""
    TRANSLATED = "translated"
    """Turned into the vendor's own equivalent (or honoured by the gateway itself)."""
    REFUSED = "refused"
    """The vendor has no equivalent: the request is answered 400 `unsupported_feature`."""


@dataclass(frozen=True, slots=True)
class ParameterRule:
    """What one adapter does with one parameter.

    `serves`, when set, decides per value: a forwarded or translated parameter with a value
    it does not serve is refused (`n: 2`), and a refused one with a value it serves is
    accepted, because that value asks for nothing the vendor would not do anyway
    (`n: 1`, `logprobs: false`, `modalities: ["text"]`). `null` is always accepted: it is
    the parameter left out.
    """

    handling: Handling
    detail: str
    """Forwarded: how; translated: to what; refused: why."""
    serves: Callable[[Any], bool] | None = None
    values: str = ""
    """The values `serves` accepts, in words, for messages and the docs."""

    def refuses(self, value: Any) -> bool:
        if value is None:
            return False
        if self.serves is not None:
            return not self.serves(value)
        return self.handling is Handling.REFUSED


Serves = Callable[[Any], bool]


def forwarded(detail: str = "as sent", serves: Serves | None = None, values: str = "") -> ParameterRule:
    return ParameterRule(Handling.FORWARDED, detail, serves, values)


def translated(to: str, serves: Serves | None = None, values: str = "") -> ParameterRule:
    return ParameterRule(Handling.TRANSLATED, to, serves, values)


def refused(why: str, serves: Serves | None = None, values: str = "") -> ParameterRule:
    return ParameterRule(Handling.REFUSED, why, serves, values)


@dataclass(frozen=True, slots=True)
class OtherFields:
    """The rule for request fields that are not OpenAI chat parameters.

    `native` None: every such field is forwarded as sent (an OpenAI-compatible server may
    know it). Otherwise only the fields named in `native` (parameters of the vendor's own
    API, under the vendor's own name) pass on as sent; any other field is refused, never
    dropped. A field named like an OpenAI parameter always has the OpenAI meaning."""

    native: frozenset[str] | None
    detail: str


@dataclass(frozen=True, slots=True)
class EmbeddingPolicy:
    """What an adapter does with an embeddings request.

    `fields` None: every field is forwarded as sent (an OpenAI-compatible server); otherwise
    only these are served and any other is refused. `token_input`: the vendor takes token
    arrays as `input`, not only text."""

    fields: frozenset[str] | None = None
    token_input: bool = True
    detail: str = "forwarded as sent"

    def check(self, body: Mapping[str, Any], model: str, provider: str) -> None:
        if not self.token_input and is_token_input(embedding_inputs(dict(body))):
            raise UnsupportedFeature(
                f"The model '{model}' ({provider}) embeds text only: 'input' must be a string or "
                "a list of strings, not token arrays",
                param="input",
            )
        for name, value in body.items():
            if self.fields is not None and name not in self.fields and value is not None:
                accepted = ", ".join(sorted(self.fields))
                raise UnsupportedFeature(
                    f"The model '{model}' ({provider}) does not support '{name}' in an embeddings "
                    f"request (accepted: {accepted})",
                    param=name,
                )


@dataclass(frozen=True, slots=True)
class ParameterPolicy:
    """One adapter's table: a rule for every OpenAI chat parameter, and one for other fields."""

    rules: Mapping[str, ParameterRule]
    other_fields: OtherFields = field(default_factory=lambda: OtherFields(None, "forwarded as sent"))
    native_dialects: frozenset[Dialect] = frozenset()
    """Client dialects the adapter passes through as sent (`ChatRequest.native`): such a request
    is neither checked against `rules` nor translated; the upstream judges it."""
    embeddings: EmbeddingPolicy | None = None
    """How the adapter serves `/v1/embeddings`; None: its vendor has no embeddings."""

    def __post_init__(self) -> None:
        missing, unknown = CHAT_PARAMETERS - set(self.rules), set(self.rules) - CHAT_PARAMETERS
        if missing or unknown:
            raise ValueError(f"parameter table: missing {sorted(missing)}, not OpenAI's {sorted(unknown)}")

    def passes_through(self, request: ChatRequest) -> bool:
        """The adapter sends this request in the client's own dialect."""
        return request.native is not None and request.native.dialect in self.native_dialects

    def check_request(self, request: ChatRequest, model: str, provider: str) -> None:
        """Raise `UnsupportedFeature` unless this adapter can serve the request: as sent, when
        it speaks the client's dialect; otherwise its canonical translation, all of it. An
        embeddings request is checked against `embeddings`, never the chat table."""
        if request.dialect is Dialect.EMBEDDINGS:
            if self.embeddings is None:
                raise UnsupportedFeature(
                    f"The model '{model}' cannot be served by provider '{provider}': it has no "
                    "embeddings API",
                    param="model",
                )
            self.embeddings.check(request.body, model, provider)
            return
        if self.passes_through(request):
            return
        if request.untranslatable:
            first = request.untranslatable[0]
            raise UnsupportedFeature(
                f"The model '{model}' ({provider}) cannot serve '{first.param}': {first.why}",
                param=first.param,
            )
        self.check(request.body, model, provider)

    def check(self, body: Mapping[str, Any], model: str, provider: str) -> None:
        """Raise `UnsupportedFeature` for the first field of `body` this adapter cannot serve."""
        for name, value in body.items():
            rule = self.rules.get(name)
            if rule is None:
                self._check_other(name, value, model, provider)
            elif rule.refuses(value):
                raise UnsupportedFeature(_refusal(name, value, rule, model, provider), param=name)

    def _check_other(self, name: str, value: Any, model: str, provider: str) -> None:
        native = self.other_fields.native
        if native is None or name in native or value is None:
            return
        accepted = ", ".join(sorted(native)) or "none"
        raise UnsupportedFeature(
            f"The model '{model}' ({provider}) does not support '{name}': it is not an OpenAI chat "
            f"parameter, nor one of the provider's own that the gateway passes on ({accepted})",
            param=name,
        )


FORWARD_ALL = ParameterPolicy({name: forwarded() for name in CHAT_PARAMETERS}, embeddings=EmbeddingPolicy())
"""Every parameter and field forwarded as sent: an OpenAI-compatible server, or a fake."""


def _refusal(name: str, value: Any, rule: ParameterRule, model: str, provider: str) -> str:
    head = f"The model '{model}' ({provider}) does not support"
    if rule.serves is None:
        return f"{head} '{name}': {rule.detail}"
    shown = repr(value)
    what = f"'{name}' = {shown}" if len(shown) <= 60 else f"this '{name}'"
    why = f"{rule.detail}; " if rule.handling is Handling.REFUSED else ""
    return f"{head} {what}: {why}accepted: {rule.values}"


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One call to one provider: the request, the model it resolved to, extra headers."""

    request: ChatRequest
    model: ModelSpec
    headers: Mapping[str, str] = field(default_factory=dict)
    """Headers to send upstream, such as the W3C `traceparent`."""


class Provider(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def parameters(self) -> ParameterPolicy: ...

    async def complete(self, call: UpstreamCall) -> Completion: ...

    def stream(self, call: UpstreamCall) -> AsyncIterator[Chunk]: ...

    async def embed(self, call: UpstreamCall) -> Embeddings: ...

    async def aclose(self) -> None: ...
