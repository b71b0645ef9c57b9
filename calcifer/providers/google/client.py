"""The google-genai SDK's async client on the adapter's own aiohttp session: endpoint, API
key, proxy, CAs and connection cap from the catalog, and the responses that session opened."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any
from weakref import WeakKeyDictionary

import aiohttp
from google import genai
from google.genai import types
from google.genai.client import AsyncClient
from yarl import URL

from calcifer.catalog.model import ProviderConfig, ProxyAddress
from calcifer.transport.http_client import tls_context

__all__ = ["DEFAULT_API_VERSION", "DEFAULT_BASE_URL", "OpenedResponses", "open_session", "sdk_client"]

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/"
DEFAULT_API_VERSION = "v1beta"


class OpenedResponses:
    """The HTTP responses the adapter's session opened, by the task that opened them.

    The SDK's stream generators do not close their HTTP response when the consumer stops
    early (closing the outer generator leaves the inner ones suspended), so a client that
    disconnects would leave the upstream streaming. The session reports every response it
    opens here, and `stream` closes those of its own task when it ends, however it ends.
    """

    def __init__(self) -> None:
        self._by_task: WeakKeyDictionary[asyncio.Task[Any], list[aiohttp.ClientResponse]] = (
            WeakKeyDictionary()
        )

    def trace_config(self) -> aiohttp.TraceConfig:
        config = aiohttp.TraceConfig()
        config.on_request_end.append(self._opened)
        return config

    async def _opened(
        self, session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._by_task.setdefault(task, []).append(params.response)

    def close_current_task(self) -> None:
        task = asyncio.current_task()
        for response in self._by_task.pop(task, []) if task is not None else []:
            response.close()


def open_session(config: ProviderConfig, opened: OpenedResponses) -> aiohttp.ClientSession:
    """The session the SDK sends on, its connections capped at the provider's `max_connections`;
    call inside the worker's event loop."""
    proxy = config.proxy
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=config.max_connections),
        trace_configs=[opened.trace_config()],
        proxy=URL.build(scheme="http", host=proxy.host, port=proxy.port) if proxy else None,
        proxy_auth=_proxy_auth(proxy) if proxy else None,
    )


def _proxy_auth(proxy: ProxyAddress) -> aiohttp.BasicAuth | None:
    if proxy.user is None:
        return None
    return aiohttp.BasicAuth(proxy.user, proxy.password.reveal() if proxy.password else "")


def sdk_client(config: ProviderConfig, session: aiohttp.ClientSession) -> AsyncClient:
    options = types.HttpOptions(
        aiohttp_client=session,
        base_url=config.base_url or DEFAULT_BASE_URL,
        api_version=config.api_version or DEFAULT_API_VERSION,
        headers=dict(config.headers),
        timeout=int(config.timeout * 1000),
        retry_options=types.HttpRetryOptions(attempts=1),  # the gateway retries, not the SDK
        # the SDK sets `ssl` on each request itself, so a provider's own CAs go there
        async_client_args={"ssl": tls_context(str(config.ca_bundle))} if config.ca_bundle else None,
    )
    api_key = config.api_key.reveal() if config.api_key else "no-key"
    return genai.Client(api_key=api_key, http_options=options).aio
