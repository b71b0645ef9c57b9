"""The command line: the shipped config serves echo4 with no key, on several workers too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import orjson

from calcifer import __version__
from tests.gateway_process import ROOT, GatewayProcess, free_port

ECHO_CATALOG = (ROOT / "catalog" / "echo.yaml").read_text()


def test_version() -> None:
    result = subprocess.run([sys.executable, "-m", "calcifer", "--version"], capture_output=True, text=True)
    assert result.stdout.strip() == f"calcifer {__version__}"


def test_two_workers_serve_requests(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path, ECHO_CATALOG, workers=2, env={"CALCIFER_MASTER_KEY": "k"}).start()
    try:
        for _ in range(20):
            body = {"model": "echo4", "messages": [{"role": "user", "content": "hi"}]}
            response = httpx.post(gateway.url + "/v1/completions", json=body, headers={"Connection": "close"})
            assert response.json()["content"] == "[user]: hi"
        answering: set[int] = set()  # which worker answers each new connection
        deadline = time.monotonic() + 10
        while len(answering) < 2 and time.monotonic() < deadline:
            detail = gateway.health_detail(new_connection=True)
            answering.add(detail["worker_pid"])
        assert len(answering) == 2, answering
    finally:
        gateway.stop()
    ready = [orjson.loads(line) for line in gateway.log().splitlines() if '"worker ready' in line]
    assert len({line["pid"] for line in ready}) == 2


def test_serve_refuses_a_bad_catalog_with_its_problems(tmp_path: Path) -> None:
    (tmp_path / "catalog.yaml").write_text(
        "models:\n  x:\n    provider: nobody\n    pricing: {input: 1, output: 1}\n"
    )
    (tmp_path / "config.yaml").write_text("catalog:\n  path: catalog.yaml\n")
    result = subprocess.run(
        [sys.executable, "-m", "calcifer", "serve", "--config", str(tmp_path / "config.yaml")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert f"{tmp_path}/catalog.yaml:3:15: models.x.provider: unknown provider 'nobody'" in result.stderr


def test_wheel_ships_the_schema(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("calcifer-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "calcifer/catalog/schema.json" in names
    assert "calcifer/py.typed" in names
    assert "calcifer/defaults/config.yaml" in names  # the shipped config and catalog, as files
    assert "calcifer/defaults/catalog/echo.yaml" in names


def test_sighup_to_a_multi_worker_gateway_reloads_every_worker_and_keeps_serving(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path, ECHO_CATALOG, workers=2, config_extra="  watch_seconds: 0\n").start()
    try:
        deadline = time.monotonic() + 20
        while gateway.log().count('"worker ready') < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # the first worker answers /health before the second is up
        with (tmp_path / "catalog.yaml").open("a") as catalog:
            catalog.write("  echo5:\n    provider: echo\n    pricing: {input: 1, output: 1}\n")
        assert gateway._process is not None
        body = {"model": "echo5", "messages": [{"role": "user", "content": "hi"}]}
        deadline = time.monotonic() + 15

        def reloads() -> tuple[int, int]:
            log = gateway.log()
            # A worker may see the other's reload (the shared catalog generation, checked twice a
            # second) before the manager's SIGHUP reaches it on a busy machine: that is a reload too.
            return log.count("catalog reloaded (SIGHUP)"), log.count("catalog reloaded (another worker")

        while sum(reloads()) < 2 and time.monotonic() < deadline:
            # repeated while a busy machine is still bringing a worker up; a reload of an
            # unchanged catalog is a no-op, so each worker reloads (and logs) exactly once
            gateway._process.send_signal(signal.SIGHUP)
            time.sleep(0.5)
        by_signal, by_generation = reloads()
        assert by_signal >= 1 and by_signal + by_generation == 2
        statuses = {
            httpx.post(
                gateway.url + "/v1/completions", json=body, headers={"Connection": "close"}
            ).status_code
            for _ in range(10)
        }
        assert statuses == {200}
        assert gateway._process.poll() is None
    finally:
        gateway.stop()


def test_serve_outside_the_repository_runs_on_the_packaged_config(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SERVER_PORT": str(port), "SERVER_HOST": "127.0.0.1"}
    env.pop("CALCIFER_CONFIG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "calcifer", "serve"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(url + "/health", timeout=0.5)
                break
            except httpx.HTTPError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                time.sleep(0.1)
        body = {"model": "echo4", "messages": [{"role": "user", "content": "Test message"}]}
        answer = httpx.post(url + "/v1/completions", json=body, timeout=10).json()
        assert answer["content"] == "[user]: Test message" and answer["usage"]["cost"] == 0.0002
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_init_writes_editable_copies_once(tmp_path: Path) -> None:
    def init() -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "calcifer", "init", str(tmp_path / "gw")]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    assert init().returncode == 0
    assert (tmp_path / "gw" / "config.yaml").read_text() == (ROOT / "config.yaml").read_text()
    echo = tmp_path / "gw" / "catalog" / "echo.yaml"
    assert echo.read_text() == (ROOT / "catalog" / "echo.yaml").read_text()
    again = init()
    assert again.returncode == 1 and "exist already" in again.stderr


def test_catalog_check_lists_deprecated_and_retired_models(tmp_path: Path) -> None:
    (tmp_path / "catalog.yaml").write_text(
        "providers:\n  echo:\n    kind: echo\nmodels:\n"
        "  new: {provider: echo, pricing: {input: 1, output: 1}}\n"
        "  old: {provider: echo, retires_on: 2020-06-01, replacement: new, pricing: {input: 1, output: 1}}\n"
        "  worn: {provider: echo, deprecated_on: 2020-01-01, retires_on: 2999-01-01, replacement: new,"
        " pricing: {input: 1, output: 1}}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "calcifer", "catalog", "check", str(tmp_path / "catalog.yaml")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    lifecycle = result.stdout.split("lifecycle:\n", 1)[1].splitlines()
    assert [line.split() for line in lifecycle] == [
        ["old", "retired", "retires", "2020-06-01", "→", "new"],
        ["worn", "deprecated", "deprecated", "2020-01-01,", "retires", "2999-01-01", "→", "new"],
    ]
