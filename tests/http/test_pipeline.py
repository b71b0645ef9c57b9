"""The pipeline runs its hooks in order around the handler, and every exit hook on every path."""

from __future__ import annotations

import itertools
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, text

from calcifer.errors import InvalidRequest
from calcifer.http.pipeline import Pipeline
from calcifer.http.scope import RequestScope

_names = itertools.count()


class Recorder:
    def __init__(self, name: str, log: list[str], refuse: bool = False) -> None:
        self.name, self.log, self.refuse = name, log, refuse

    async def enter(self, request: Request, scope: RequestScope) -> None:
        self.log.append(f"enter {self.name}")
        if self.refuse:
            raise InvalidRequest("refused by a hook")

    def exit(self, scope: RequestScope) -> None:
        self.log.append(f"exit {self.name} {scope.status}")


class BrokenExit:
    def exit(self, scope: RequestScope) -> None:
        raise RuntimeError("a bug in a hook")


def app_with(pipeline: Pipeline, handler: Any) -> Sanic[Any, Any]:
    app = Sanic(f"pipeline{next(_names)}")
    app.add_route(pipeline.wrap("/x", handler), "/x", methods=["GET"])

    @app.on_request
    def request_id(request: Request) -> None:
        request.ctx.request_id = "rid"

    return app


async def ok(request: Request, scope: RequestScope) -> HTTPResponse:
    scope.model = "m"
    return text("fine")


def test_hooks_enter_in_order_and_exit_in_order_after_the_handler() -> None:
    log: list[str] = []
    pipeline = Pipeline([Recorder("a", log), Recorder("b", log)])
    _, response = app_with(pipeline, ok).test_client.get("/x")
    assert response.status == 200 and response.text == "fine"
    assert log == ["enter a", "enter b", "exit a 200", "exit b 200"]


def test_a_hook_that_refuses_answers_in_the_error_shape_and_every_exit_still_runs() -> None:
    log: list[str] = []
    pipeline = Pipeline([Recorder("auth", log, refuse=True), BrokenExit(), Recorder("log", log)])
    _, response = app_with(pipeline, ok).test_client.get("/x")
    assert response.status == 400
    assert response.json["error"]["code"] == "invalid_request"
    assert log == ["enter auth", "exit auth 400", "exit log 400"]  # the broken exit did not stop the last


def test_hooks_installed_after_routes_were_wrapped_are_the_ones_that_run() -> None:
    log: list[str] = []
    pipeline = Pipeline()
    app = app_with(pipeline, ok)
    pipeline.install([Recorder("late", log)])
    _, response = app.test_client.get("/x")
    assert response.status == 200 and log == ["enter late", "exit late 200"]
