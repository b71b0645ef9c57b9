"""The floor: a bare Sanic + aiohttp forwarder, the least a hop through Python can cost.

`python -m bench.floor --port 9150 --upstream http://127.0.0.1:9100/v1`. It forwards the
body of `POST /v1/chat/completions` to the upstream on one shared aiohttp session and
returns the answer; an event stream passes the upstream's bytes through as they arrive.
No routing, pricing, telemetry or checks: every later feature reports against this.
"""

from __future__ import annotations

import argparse
from typing import Any

import aiohttp
from sanic import Request, Sanic
from sanic.response import HTTPResponse, raw

UPSTREAM_HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer bench"}


def build_app(upstream: str) -> Sanic[Any, Any]:
    app = Sanic("bench_floor", configure_logging=False)
    app.config.ACCESS_LOG = False
    url = upstream.rstrip("/") + "/chat/completions"

    @app.before_server_start
    async def open_session(app: Sanic[Any, Any]) -> None:
        # no cap on connections: the floor must not queue what the gateway would not
        app.ctx.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    @app.after_server_stop
    async def close_session(app: Sanic[Any, Any]) -> None:
        await app.ctx.session.close()

    @app.post("/v1/chat/completions")
    async def forward(request: Request) -> HTTPResponse | None:
        session: aiohttp.ClientSession = request.app.ctx.session
        async with session.post(url, data=request.body, headers=UPSTREAM_HEADERS) as answer:
            if answer.content_type != "text/event-stream":
                return raw(await answer.read(), status=answer.status, content_type=answer.content_type)
            response = await request.respond(status=answer.status, content_type="text/event-stream")
            assert response is not None
            async for piece in answer.content.iter_any():
                await response.send(piece)
            await response.eof()
            return None

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return raw(b"ok")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9150)
    parser.add_argument("--upstream", default="http://127.0.0.1:9100/v1", help="the upstream's /v1 URL")
    args = parser.parse_args()
    app = build_app(args.upstream)
    # one worker in this process, as Calcifer runs with its default `workers: 1`
    app.run(host="127.0.0.1", port=args.port, single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    main()
