"""The console's security over real HTTP(S), without a browser: cookie flags, sign-in, CSRF and
origin checks, expiry, sign-out, and no secret on any page."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.access_setup import ADMIN, ECHO_CATALOG, MASTER, new_key
from tests.fakes.tls import CertificateAuthority
from tests.gateway_process import GatewayProcess

SIGN_IN = "/admin/console/sign-in"
PAGES = (
    "/admin/",
    "/admin/?window=week",
    "/admin/console/spend",
    "/admin/console/spend?by=model",
    "/admin/console/spend.csv",
    "/admin/console/keys",
    "/admin/console/models",
    "/admin/console/requests",
)


def start(workdir: Path, console: str = "", **options: object) -> GatewayProcess:
    return GatewayProcess(
        workdir, ECHO_CATALOG, env={"CALCIFER_MASTER_KEY": MASTER}, auth_required=True,
        config_extra=console, **options,  # type: ignore[arg-type]
    ).start()  # fmt: skip


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = start(tmp_path_factory.mktemp("console"))
    yield process
    process.stop()


def browser(gateway: GatewayProcess, **options: object) -> httpx.Client:
    """A client that, like a browser on a console page, sends the gateway's origin."""
    return httpx.Client(base_url=gateway.url, headers={"Origin": gateway.url}, timeout=10, **options)  # type: ignore[arg-type]


def signed_in(gateway: GatewayProcess, **options: object) -> tuple[httpx.Client, str]:
    """A client with a session, and the session's CSRF token (as a page carries it)."""
    client = browser(gateway, **options)
    response = client.post(SIGN_IN, data={"master_key": MASTER})
    assert response.status_code == 303 and response.headers["location"] == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert token is not None
    return client, token.group(1)


def set_cookie(response: httpx.Response) -> str:
    cookie: str = response.headers.get("set-cookie", "")
    return cookie


def test_signing_in_gives_an_httponly_samesite_strict_cookie_without_the_master_key(
    gateway: GatewayProcess,
) -> None:
    response = browser(gateway).post(SIGN_IN, data={"master_key": MASTER})
    cookie = set_cookie(response)
    assert response.status_code == 303
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    assert MASTER not in cookie


def test_over_https_the_session_cookie_is_secure(tmp_path: Path) -> None:
    authority = CertificateAuthority(tmp_path)
    authority.server_context("localhost")  # writes localhost.pem: key and certificate
    ca = authority.write_pem(tmp_path / "ca.pem")
    tls = "  tls_cert: localhost.pem\n  tls_key: localhost.pem\n"
    process = start(tmp_path, server_extra=tls, https_ca=ca)
    try:
        response = browser(process, verify=process.verify).post(SIGN_IN, data={"master_key": MASTER})
        assert response.status_code == 303
        assert "Secure" in set_cookie(response) and "HttpOnly" in set_cookie(response)
    finally:
        process.stop()


def test_a_wrong_master_key_is_refused_and_gets_no_session(gateway: GatewayProcess) -> None:
    client = browser(gateway)
    response = client.post(SIGN_IN, data={"master_key": MASTER + "x"})
    assert response.status_code == 401
    assert "not the master key" in response.text and not set_cookie(response)
    assert client.get("/admin/").status_code == 303


def test_every_page_and_change_without_a_session_goes_to_sign_in(gateway: GatewayProcess) -> None:
    client = browser(gateway)
    for path in PAGES:
        response = client.get(path)
        assert (response.status_code, response.headers.get("location")) == (303, SIGN_IN), path
    response = client.post("/admin/console/keys", data={"name": "sneaky"})
    assert response.status_code == 303
    names = [key["name"] for key in httpx.get(gateway.url + "/admin/keys", headers=ADMIN).json()["data"]]
    assert "sneaky" not in names


def test_a_change_without_the_csrf_token_or_from_another_origin_is_refused(gateway: GatewayProcess) -> None:
    client, token = signed_in(gateway)
    no_token = client.post("/admin/console/keys", data={"name": "no-token"})
    wrong_token = client.post("/admin/console/keys", data={"name": "wrong-token", "csrf_token": token + "x"})
    other_origin = client.post(
        "/admin/console/keys", data={"name": "other-origin", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )  # fmt: skip
    assert [r.status_code for r in (no_token, wrong_token, other_origin)] == [403, 403, 403]
    accepted = client.post("/admin/console/keys", data={"name": "from-the-page", "csrf_token": token})
    assert accepted.status_code == 200
    names = {key["name"] for key in httpx.get(gateway.url + "/admin/keys", headers=ADMIN).json()["data"]}
    assert "from-the-page" in names and not names & {"no-token", "wrong-token", "other-origin"}


def test_the_admin_api_takes_a_session_only_with_its_csrf_token(gateway: GatewayProcess) -> None:
    client, token = signed_in(gateway)
    assert client.get("/admin/keys").status_code == 401  # the cookie alone: what a foreign page can make
    assert client.get("/admin/keys", headers={"X-CSRF-Token": token}).status_code == 200
    stats = client.get("/admin/stats?window=hour", headers={"X-CSRF-Token": token})
    assert stats.status_code == 200 and len(stats.json()["buckets"]) == 12
    foreign = client.post(
        "/admin/teams",
        json={"name": "foreign"},
        headers={"X-CSRF-Token": token, "Origin": "https://evil.example"},
    )
    assert foreign.status_code == 401
    assert httpx.get(gateway.url + "/admin/keys", headers=ADMIN).status_code == 200  # the Bearer key, as ever


def test_a_tampered_session_cookie_is_no_session(gateway: GatewayProcess) -> None:
    client, _ = signed_in(gateway)
    value = client.cookies["calcifer_console"]
    expires, nonce, signature = value.split(".")
    later = f"{int(expires) + 86_400}.{nonce}.{signature}"  # a longer session, same signature
    forged = browser(gateway, cookies={"calcifer_console": later})
    assert forged.get("/admin/").status_code == 303


def test_a_session_ends_at_its_expiry(tmp_path: Path) -> None:
    process = start(tmp_path, console="console:\n  session_seconds: 2\n")
    try:
        client, token = signed_in(process)
        assert client.get("/admin/console/keys").status_code == 200
        time.sleep(2.5)
        assert client.get("/admin/console/keys").status_code == 303
        assert client.get("/admin/keys", headers={"X-CSRF-Token": token}).status_code == 401
    finally:
        process.stop()


def test_sign_out_clears_the_cookie_and_pages_go_back_to_sign_in(gateway: GatewayProcess) -> None:
    client, token = signed_in(gateway)
    response = client.post("/admin/console/sign-out", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"] == SIGN_IN
    assert "Max-Age=0" in set_cookie(response)
    for path in PAGES:
        assert client.get(path).status_code == 303, path


def test_no_page_shows_a_secret_and_a_new_key_is_shown_once(gateway: GatewayProcess) -> None:
    existing = new_key(gateway, name="existing")["key"]
    client, token = signed_in(gateway)
    created = client.post("/admin/console/keys", data={"name": "shown-once", "csrf_token": token})
    secret = re.search(r'id="new-key-secret">([^<]+)<', created.text)
    assert created.status_code == 200 and secret is not None
    assert httpx.get(
        gateway.url + "/v1/models", headers={"Authorization": f"Bearer {secret.group(1)}"}
    ).is_success
    pages = [client.get(path) for path in PAGES]
    pages.append(client.get("/admin/stats?window=day", headers={"X-CSRF-Token": token}))
    for response in pages:
        assert response.status_code == 200, response.url
        for hidden in (MASTER, existing, secret.group(1)):
            assert hidden not in response.text, (response.url, "shows a secret")
    assert all(r.headers.get("cache-control") == "no-store" for r in pages[:-2])


def test_what_a_key_holder_named_is_shown_as_text_never_run(gateway: GatewayProcess) -> None:
    hostile = '<script>alert("owned")</script>'
    new_key(gateway, name=hostile, user='"><img src=x onerror=alert(1)>')
    client, _ = signed_in(gateway)
    page = client.get("/admin/console/keys").text
    assert hostile not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;" in page


def test_a_session_from_one_worker_is_accepted_by_the_others(tmp_path: Path) -> None:
    process = start(tmp_path, workers=2)
    try:
        client, token = signed_in(process)
        pids, statuses = set(), set()
        for _ in range(30):  # a new connection each time: the workers take turns accepting
            fresh = {"Connection": "close"}
            statuses.add(client.get("/admin/console/keys", headers=fresh).status_code)
            statuses.add(client.get("/admin/keys", headers={**fresh, "X-CSRF-Token": token}).status_code)
            pids.add(process.health_detail(new_connection=True)["worker_pid"])
        assert statuses == {200}
        assert len(pids) == 2  # both workers were answering meanwhile
    finally:
        process.stop()
