"""CORS is off by default: no browser origin may read the gateway's answers until one is listed."""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, text

from calcifer.http.hooks.cors import Cors
from calcifer.settings import CorsSettings, load_settings
from tests.gateway_process import ROOT


def app_with(cors: Cors) -> Sanic[Any, Any]:
    app = Sanic(f"cors{id(cors)}")

    @app.post("/x")
    async def answer(request: Request) -> HTTPResponse:
        return text("ok")

    app.register_middleware(cors.preflight, "request")
    app.register_middleware(cors.decorate, "response")
    return app


def test_the_defaults_and_the_shipped_config_allow_no_origin() -> None:
    shipped = load_settings(ROOT / "config.yaml", environ={})
    for settings in (CorsSettings(), shipped.cors):
        app = app_with(Cors(settings))
        _, response = app.test_client.post("/x", headers={"Origin": "https://page.example"})
        assert response.status == 200 and "access-control-allow-origin" not in response.headers
        _, preflight = app.test_client.options(
            "/x", headers={"Origin": "https://page.example", "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in preflight.headers


def test_the_shipped_config_listens_on_this_machine_only() -> None:
    assert load_settings(ROOT / "config.yaml", environ={}).server.host == "127.0.0.1"
