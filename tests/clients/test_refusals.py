"""A key the gateway does not know stops each real client at once with the gateway's own
message, in the client's error shape with `x-should-retry: false`: one request, no retries."""

from __future__ import annotations

import pytest

from tests.clients.agents import requires_opt_in
from tests.clients.checks import Workbench

pytestmark = requires_opt_in


@pytest.mark.parametrize(
    ("client", "path", "said"),
    [
        ("claude-code", "/v1/messages", "401 The API key is not valid"),
        ("codex", "/v1/responses", "401 Unauthorized: The API key is not valid"),
    ],
)
def test_a_key_the_gateway_does_not_know_stops_the_client_at_once_with_its_message(
    workbench: Workbench, client: str, path: str, said: str
) -> None:
    before = workbench.gateway_answers(path)
    run = workbench.run(client, "ck-not-a-key", "gpt-agent")
    assert run.returncode != 0, run.explain()
    assert said in run.stdout + run.stderr, run.explain()
    assert workbench.gateway_answers(path)[len(before) :] == [(401, "invalid_api_key")]
    assert workbench.upstream.received == []
