"""OpenAI's web search fee through a passed-through Responses answer, whole and streamed: each
`web_search_call` output item is a billed call, and the client sees the same cost both ways."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import orjson
import pytest

from tests.e2e.invoice_setup import ledger_row
from tests.e2e.responses_setup import fake_responses, responses_world  # noqa: F401
from tests.fakes.openai_responses_upstream import FakeResponses
from tests.fakes.upstream import Behaviour
from tests.gateway_process import GatewayProcess


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    responses_world: tuple[str, dict[str, str]],  # noqa: F811
) -> Iterator[GatewayProcess]:
    workdir: Path = tmp_path_factory.mktemp("responses-pricing")
    process = GatewayProcess(workdir, responses_world[0], env=responses_world[1]).start()
    yield process
    process.stop()


USAGE = {"input_tokens": 9000, "output_tokens": 400, "output_tokens_details": {"reasoning_tokens": 0}}
# gpt-5 in the test catalog: $1.25 input, $10 output per 1M tokens; web search "$10 / 1k calls"
# plus the search content tokens at the model's rates (https://platform.openai.com/docs/pricing)
INVOICE = (9000 * Decimal("1.25") + 400 * 10) / 1_000_000 + 2 * Decimal(10) / 1000


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_openai_web_search_calls_are_billed_per_call(
    gateway: GatewayProcess,
    fake_responses: FakeResponses,  # noqa: F811
    streamed: bool,
) -> None:
    fake_responses.reset()
    fake_responses.script(Behaviour(usage=USAGE, web_searches=2))
    body = {"model": "gpt-5", "input": "news?", "tools": [{"type": "web_search"}], "store": False}
    answer = httpx.post(gateway.url + "/v1/responses", json=body | {"stream": streamed}, timeout=10)
    assert answer.status_code == 200, answer.text
    if streamed:
        last = answer.content.strip().split(b"\n\n")[-1]
        response = orjson.loads(last.split(b"data: ", 1)[1])["response"]
    else:
        response = answer.json()
    assert Decimal(str(response["usage"]["cost"])) == INVOICE
    assert Decimal(ledger_row(gateway, answer.headers["x-request-id"])["cost_usd"]) == INVOICE
