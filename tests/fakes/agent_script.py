"""A fake upstream that plays a two-turn coding agent for the real clients (Claude Code, Codex):
turn 1 asks the client to run a shell command with the shell tool the client offered, turn 2
(once the tool's result is in the conversation) answers with the final text. One server speaks
Anthropic Messages, OpenAI chat completions and OpenAI Responses, streamed and not.

The turn is read from the request itself, not counted, so a client's retry, its fallback from
streaming to non-streaming, or a side request (a title, a summary) gets the same answer again."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes import agent_wire
from tests.fakes.agent_wire import Step
from tests.fakes.upstream import FakeUpstream, Turn

__all__ = ["AgentTask", "FakeAgentUpstream", "Step"]


@dataclass(frozen=True)
class AgentTask:
    command: str
    """The shell command turn 1 asks the client to run."""
    final_text: str
    """Turn 2's answer, once the command's result came back."""


class FakeAgentUpstream(FakeUpstream):
    """`received` records every request (path, headers, body); `tool_results` the tool outputs
    the clients sent back, as text."""

    def __init__(self, task: AgentTask) -> None:
        super().__init__()
        self.task = task
        self.streams_to_drop = 0
        """How many of the next streamed answers end mid-way: the connection closes after the
        first two events, as when a provider's server goes away."""

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/responses", self._responses)
        return app

    def reset(self) -> None:
        super().reset()
        self.streams_to_drop = 0

    def step(self, tools: list[tuple[str, dict[str, Any]]], results: list[str]) -> Step:
        """Turn 2 when a tool result came back; otherwise turn 1, with the first shell tool offered."""
        if results:
            return Step(text=self.task.final_text)
        for name, schema in tools:
            arguments = shell_arguments(name, schema, self.task.command)
            if arguments is not None:
                return Step(tool=name, arguments=arguments)
        return Step(text=f"no shell tool among {[name for name, _ in tools]}")

    @property
    def tool_results(self) -> list[str]:
        return [text for received in self.received for text in _results(received.path, received.body)]

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request)
        thinking = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
        if thinking and (problem := _thinking_not_returned(body)):
            error = {"type": "error", "error": {"type": "invalid_request_error", "message": problem}}
            return web.json_response(error, status=400)
        tools = [(t["name"], t.get("input_schema") or {}) for t in body.get("tools") or () if "name" in t]
        step = self.step(tools, _anthropic_results(body))
        if body.get("stream"):
            return await self._stream(request, agent_wire.anthropic_events(body["model"], step, thinking))
        return web.json_response(agent_wire.anthropic_message(body["model"], step, thinking))

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request)
        functions = [t["function"] for t in body.get("tools") or () if t.get("type") == "function"]
        step = self.step([(f["name"], f.get("parameters") or {}) for f in functions], _chat_results(body))
        if body.get("stream"):
            with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return await self._stream(request, agent_wire.chat_events(body["model"], step, with_usage))
        return web.json_response(agent_wire.chat_completion(body["model"], step))

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request)
        tools = [
            (t["name"], t.get("parameters") or {})
            for t in body.get("tools") or ()
            if t.get("type") == "function"
        ]
        step = self.step(tools, _responses_results(body))
        if body.get("stream"):
            return await self._stream(request, agent_wire.responses_events(body["model"], step))
        return web.json_response(agent_wire.responses_object(body["model"], step))

    async def _read(self, request: web.Request) -> dict[str, Any]:
        body: dict[str, Any] = await request.json()
        self.next_behaviour(request, body)  # records the request
        return body

    async def _stream(self, request: web.Request, events: Iterator[bytes]) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if self.streams_to_drop > 0 and request.transport is not None:
            self.streams_to_drop -= 1
            for event in itertools.islice(events, 2):
                await response.write(event)
            request.transport.close()
            return response
        for event in events:
            await response.write(event)
        await response.write_eof()
        return response

    # FakeUpstream's provider-neutral views are for the conformance suite; this fake is not in it
    def system_prompt(self) -> str:
        raise NotImplementedError

    def turns(self) -> list[Turn]:
        raise NotImplementedError


def shell_arguments(name: str, schema: dict[str, Any], command: str) -> dict[str, Any] | None:
    """The arguments that make tool `name` run `command`, read from its JSON schema; None when
    it is no shell tool. Claude Code's `Bash` takes {"command": str}; Codex's `exec_command`
    {"cmd": str}; older shells {"command": [argv]}."""
    if name not in ("Bash", "exec_command", "shell", "local_shell"):
        return None
    properties = schema.get("properties") or {}
    if "cmd" in properties:
        return {"cmd": command}
    if (properties.get("command") or {}).get("type") == "array":
        return {"command": ["bash", "-lc", command]}
    if name == "Bash":
        return {"command": command, "description": "Run the task's command"}
    return {"command": command}


def _thinking_not_returned(body: dict[str, Any]) -> str | None:
    """What Anthropic says when thinking is on and an assistant turn that called a tool does not
    start with the thinking block it came with, signature intact (None: it does)."""
    for index, message in enumerate(body.get("messages") or ()):
        content = message.get("content")
        if message.get("role") != "assistant" or not isinstance(content, list):
            continue
        if not any(block.get("type") == "tool_use" for block in content):
            continue
        first = content[0]
        if first.get("type") != "thinking":
            return (
                f"messages.{index}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                f"`{first.get('type')}`. When `thinking` is enabled, a final `assistant` message must start "
                "with a thinking block"
            )
        if first.get("signature") != agent_wire.SIGNATURE:
            return f"messages.{index}.content.0: Invalid `signature` in `thinking` block"
    return None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_text(part.get("text") or part.get("output") or "") for part in content)
    return json.dumps(content)


def _anthropic_results(body: dict[str, Any]) -> list[str]:
    return [
        _text(block.get("content"))
        for message in body.get("messages") or ()
        if isinstance(message.get("content"), list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]


def _chat_results(body: dict[str, Any]) -> list[str]:
    return [_text(m.get("content")) for m in body.get("messages") or () if m.get("role") == "tool"]


def _responses_results(body: dict[str, Any]) -> list[str]:
    items = body.get("input")
    return [
        _text(item.get("output"))
        for item in (items if isinstance(items, list) else ())
        if item.get("type") in ("function_call_output", "custom_tool_call_output")
    ]


def _results(path: str, body: dict[str, Any]) -> list[str]:
    if path.startswith("/v1/messages"):
        return _anthropic_results(body)
    if path.endswith("/chat/completions"):
        return _chat_results(body)
    return _responses_results(body)
