"""The built catalog: providers and models as runtime objects."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from calcifer.domain.breaker import DEFAULT_BREAKER, BreakerSettings
from calcifer.domain.models import ModelSpec

__all__ = ["Catalog", "ProviderConfig", "ProxyAddress", "Secret"]


class Secret:
    """A credential; its value never appears in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    def __eq__(self, other: object) -> bool:
        # Compared when a reload decides whether a provider changed; in constant time,
        # like any comparison of a credential.
        return isinstance(other, Secret) and hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(hashlib.sha256(self._value.encode()).digest())

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class ProxyAddress:
    """An HTTP proxy: where it listens, and the credentials it wants, if any."""

    host: str
    port: int
    user: str | None = None
    password: Secret | None = None

    @classmethod
    def parse(cls, url: str) -> ProxyAddress:
        """`http://[user:password@]host[:port]`; ValueError otherwise, in words that repeat
        none of the URL (it may hold a password)."""
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError("a proxy is an http://[user:password@]host:port URL")
        try:
            port = parts.port or 80
        except ValueError:
            raise ValueError("the proxy's port is not a number from 0 to 65535") from None
        if parts.username is None:
            return cls(parts.hostname, port)
        return cls(parts.hostname, port, unquote(parts.username), Secret(unquote(parts.password or "")))


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    id: str
    kind: str
    base_url: str | None = None
    api_version: str | None = None
    responses_api: bool = False
    """An `openai` provider whose server has the Responses API: `/v1/responses` passes through."""
    api_key_env: str | None = None
    api_key: Secret | None = None
    timeout: float = 60.0
    """Seconds for a whole non-streamed call (and at most for connecting)."""
    first_byte_timeout: float | None = None
    """Seconds a stream may take to send its first chunk."""
    idle_timeout: float | None = None
    """Seconds a stream may stay silent between chunks."""
    max_retries: int = 3
    """Retries after the first call: 4 attempts in all, within the request's deadline."""
    breaker: BreakerSettings = DEFAULT_BREAKER
    headers: tuple[tuple[str, str], ...] = ()
    proxy: ProxyAddress | None = None
    ca_bundle: Path | None = None
    """Certificate authorities trusted for this provider instead of the public ones."""
    transport: str = "native"
    """`native` (Calcifer's HTTP client) or `aiohttp`; a `google` provider's SDK is always aiohttp."""
    max_connections: int = 1000
    """Connections open at once to the provider's host; further requests wait for one."""
    max_response_bytes: int = 64 * 1024 * 1024
    """Largest non-streamed answer body accepted (decompressed)."""
    max_event_bytes: int = 8 * 1024 * 1024
    """Largest single server-sent event of a stream accepted."""
    max_stream_seconds: float = 600.0
    """Longest a stream may last, from the request to its end; then it ends with an error."""
    max_stream_bytes: int = 256 * 1024 * 1024
    """Most bytes a stream may bring; then it ends with an error."""
    description: str = ""

    @property
    def missing_credential(self) -> str | None:
        """Why the provider cannot be used, when its key variable is named but unset."""
        if self.api_key_env and self.api_key is None:
            return f"its API key is not set (environment variable {self.api_key_env})"
        return None


@dataclass(frozen=True, slots=True)
class Catalog:
    providers: dict[str, ProviderConfig]
    models: dict[str, ModelSpec]
    version: str
    """Content hash of the catalog files; changes whenever any file changes."""
    prices_as_of: tuple[str, ...] = field(default=())
