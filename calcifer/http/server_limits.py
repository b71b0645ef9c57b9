"""Connection-level limits Sanic does not enforce by itself: the HTTP/1.1 protocol each worker
serves its clients with (`GatewayProtocol`, passed to Sanic at start-up).

- Read bound: a request's head and body must arrive within `read_timeout` of its first byte.
  Sanic restarts that clock on every byte, so a client dripping bytes was never timed out.
  Past the bound the client is answered 408 (when an answer is still possible) and closed.
- Write progress: a large answer is handed to the transport in one piece and leaves at the
  client's pace. While its bytes are leaving the connection is neither idle (keep-alive timeout)
  nor silent (write timeout); Sanic's close used to abort such a connection 5 s after it was
  asked to close, cutting the body short of its Content-Length. Now only a client that reads
  nothing for `write_timeout` is cut off, and that is logged as an error.
- Connection cap: a worker holds at most `max_connections` client connections; one beyond that
  is closed as soon as it is accepted, before it costs anything, and open ones are untouched.
"""

from __future__ import annotations

from asyncio import BaseTransport, TimerHandle
from time import monotonic
from typing import Any, cast

from loguru import logger
from sanic.exceptions import RequestTimeout
from sanic.http import Http, Stage
from sanic.server.protocols.http_protocol import HttpProtocol

__all__ = ["MAX_CONNECTIONS_KEY", "GatewayProtocol"]

MAX_CONNECTIONS_KEY = "CALCIFER_MAX_CONNECTIONS"
"""The app-config key the composition root puts `server.max_connections` under."""

DRAIN_CHECK_SECONDS = 0.25
"""How often a closing connection with unsent bytes is checked for progress."""

REFUSAL_LOG_SECONDS = 10.0
"""Refused connections are logged at most this often (per worker), with their count."""


class _GatewayHttp(Http):
    """Sanic's HTTP/1.1 cycle, telling the protocol when the next request begins."""

    __slots__ = ()

    def init_for_request(self) -> None:
        super().init_for_request()  # type: ignore[no-untyped-call]
        # Bytes already here belong to this request (pipelined, or read before the loop ran).
        cast(GatewayProtocol, self.protocol).read_began = monotonic() if self.recv_buffer else None


class GatewayProtocol(HttpProtocol):
    """Sanic's HTTP/1.1 protocol with the read bound, write progress and connection cap above."""

    HTTP_CLASS = _GatewayHttp

    __slots__ = ("_refused", "_unsent_before", "read_began")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_began: float | None = None
        """When the first byte of the request being read arrived; None between requests."""
        self._unsent_before = 0
        self._refused = False

    # -- connection cap ------------------------------------------------------------------------

    def connection_made(self, transport: BaseTransport) -> None:
        if len(self.connections) >= self.app.config[MAX_CONNECTIONS_KEY]:
            self._refused = True
            transport.close()
            self._log_refusal()
            return
        super().connection_made(transport)  # type: ignore[no-untyped-call]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._refused:
            super().connection_lost(exc)  # type: ignore[no-untyped-call]

    def _log_refusal(self) -> None:
        state = self.state
        state["refused"] = state.get("refused", 0) + 1
        now = monotonic()
        if now - state.get("refusal_logged_at", -REFUSAL_LOG_SECONDS) >= REFUSAL_LOG_SECONDS:
            logger.warning(
                "refused {} connection(s): this worker holds {} (server.max_connections)",
                state["refused"],
                len(self.connections),
            )
            state["refused"], state["refusal_logged_at"] = 0, now

    # -- read bound ----------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.read_began is None:
            self.read_began = monotonic()
        super().data_received(data)

    def check_timeouts(self) -> None:
        http, task = self._http, self._task
        if task is not None and http is not None:
            now = monotonic()
            self._note_write_progress(now)
            if self._reading(http) and now - (self.read_began or now) > self.request_timeout:
                http.exception = RequestTimeout("Request Timeout")
                task.cancel()
                # Sanic answers 408, then reads on what is left of the body: the next check
                # cancels that too, and the connection closes.
                self._callback_check_timeouts = self.loop.call_later(
                    max(0.1, self.request_timeout / 2), self.check_timeouts
                )
                return
        super().check_timeouts()  # type: ignore[no-untyped-call]

    @staticmethod
    def _reading(http: Http) -> bool:
        # Sanic reads the body until it clears `request_body`: before the handler runs (in the
        # HANDLER stage), and after an early answer (IDLE), to find where the next request starts.
        # (Unset until the first request starts: Sanic's first check runs before that.)
        return http.stage is Stage.REQUEST or bool(getattr(http, "request_body", None))

    # -- write progress ------------------------------------------------------------------------

    def _unsent(self) -> int:
        transport = self.transport
        return 0 if transport is None else int(transport.get_write_buffer_size())

    def _note_write_progress(self, now: float) -> None:
        unsent = self._unsent()
        if unsent and unsent < self._unsent_before:
            self._time = now  # the client is reading: not idle, not silent
        self._unsent_before = unsent

    def close(self, timeout: float | None = None) -> None:
        transport = self.transport
        if timeout is None and transport is not None and not transport.is_closing() and self._unsent():
            # Let the answer finish at the client's pace (Sanic would abort it after 5 s).
            check: TimerHandle | None = self._callback_check_timeouts
            if check is not None:
                check.cancel()
            transport.close()
            self._watch_drain(self._unsent(), self._time)
            return
        super().close(timeout=timeout)

    def _watch_drain(self, unsent_before: int, progress_at: float) -> None:
        # Once the buffer is empty the transport closes itself (connection_lost follows).
        if self.transport is None or self.conn_info is None or self.conn_info.lost:
            return
        unsent, now = self._unsent(), monotonic()
        if unsent == 0:
            return
        if unsent < unsent_before:
            progress_at = now
        elif now - progress_at > self.response_timeout:
            logger.error(
                "response cut: the client read nothing for {:.1f} s (server.write_timeout); "
                "{} bytes unsent, connection closed",
                now - progress_at,
                unsent,
            )
            self.abort()  # type: ignore[no-untyped-call]
            return
        self.loop.call_later(DRAIN_CHECK_SECONDS, self._watch_drain, unsent, progress_at)
