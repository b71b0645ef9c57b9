"""Models: the serving catalog (prices per million tokens, aliases), each deployment's breaker
state and latency, its requests and error rate over the last hour (from the ledger), and the
catalog version with the last reload's outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse

from calcifer.domain.models import ModelSpec
from calcifer.http.admin import stats
from calcifer.http.admin.services import console_services
from calcifer.http.console.layout import esc, html_page, money, page, table
from calcifer.http.console.session import Session

__all__ = ["models_page"]


async def models_page(request: Request, session: Session) -> HTTPResponse:
    runtime = request.app.ctx.runtime
    serving = runtime.current
    hour = await stats.stats(console_services(request), "hour", datetime.now(UTC))
    served = {(row["model"], row["provider"]): row for row in hour["deployments"]}
    models: tuple[ModelSpec, ...] = serving.gateway.models
    states = {state.key: state for state in serving.gateway.balancer.all_states()}
    body = (
        _catalog_state(serving.catalog_version, runtime.last_reload)
        + "<h2>Catalog</h2>"
        + table(
            ("Model", "Aliases", "Input $/M tokens", "Cached input $/M", "Output $/M", "Deployments"),
            [_model_row(model) for model in models],
            css="models",
        )
        + '<h2>Deployments</h2><p class="note">Requests and error rate: the last hour, from the ledger; '
        "latency: this worker's moving average of the time to first byte.</p>"
        + table(
            ("Model", "Provider", "Upstream model", "Breaker", "Latency (ms)", "Requests", "Error rate"),
            [
                _deployment_row(model, deployment.provider_id, states.get(deployment.key), served)
                for model in models
                for deployment in model.deployments
            ],
            css="deployments",
        )
    )
    return html_page(page("Models", body, session, active="models"))


def _catalog_state(version: str, last: Any) -> str:
    if last is None:
        reload = "no reload since this worker started"
    elif last.result.problems:
        reload = f"failed at {last.at} ({last.reason}): " + "; ".join(last.result.problems[:5])
    else:
        outcome = "reloaded" if last.result.reloaded else "unchanged"
        reload = f"{outcome} at {last.at} ({last.reason})"
    return (
        f'<p class="card">Serving catalog <b id="catalog-version">{esc(version)}</b>. '
        f'Last reload: <span id="last-reload">{esc(reload)}</span></p>'
    )


def _model_row(model: ModelSpec) -> list[str]:
    price = model.price
    return [
        f"<b>{esc(model.name)}</b>",
        esc(", ".join(model.aliases) or "—"),
        money(price.input),
        money(price.cached_input) if price.cached_input is not None else "—",
        money(price.output),
        esc(", ".join(d.key for d in model.deployments)),
    ]


def _deployment_row(
    model: ModelSpec, provider: str, state: Any, served: dict[tuple[str, str], dict[str, Any]]
) -> list[str]:
    row = served.get((model.name, provider)) or {}
    snapshot = state.snapshot() if state is not None else {}
    breaker = str(snapshot.get("breaker", "unknown"))
    latency = snapshot.get("latency_ewma_ms")
    rate = row.get("error_rate")
    return [
        esc(model.name),
        esc(provider),
        esc(snapshot.get("upstream_model", "")),
        f'<span class="breaker {esc(breaker)}">{esc(breaker)}</span>',
        esc(latency if latency is not None else "—"),
        esc(row.get("requests", 0)),
        esc(f"{rate:.1%}" if rate is not None else "—"),
    ]
