"""Start the real gateway (`python -m calcifer serve`) in a child process for tests."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GatewayProcess:
    def __init__(
        self,
        workdir: Path,
        catalog_yaml: str,
        env: dict[str, str] | None = None,
        workers: int = 1,
        config_extra: str = "",
        server_extra: str = "",
        auth_required: bool = False,
        https_ca: Path | None = None,
    ) -> None:
        """`auth_required` False: API requests need no key even with a master key set (most
        tests are about something else); True: virtual keys are required. `https_ca`: the
        gateway serves HTTPS (`server_extra` names its certificate), trusted through this CA file."""
        self.https_ca = https_ca
        self.workdir = workdir
        self.port = free_port()
        self.log_path = workdir / "gateway.log"
        (workdir / "catalog.yaml").write_text(catalog_yaml)
        (workdir / "config.yaml").write_text(
            "server:\n  host: 127.0.0.1\n  max_request_body_bytes: 65536\n"
            f"  workers: {workers}\n  graceful_shutdown_seconds: 1\n" + server_extra +
            "logging:\n  level: INFO\n  format: json\n"
            f"auth:\n  required: {'true' if auth_required else 'false'}\n"
            "catalog:\n  path: catalog.yaml\n" + config_extra  # extra may continue the catalog section
        )
        self.env = {**os.environ, "SERVER_PORT": str(self.port), "PYTHONUNBUFFERED": "1", **(env or {})}
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.https_ca is not None:
            return f"https://localhost:{self.port}"  # the name a test certificate is made for
        return f"http://127.0.0.1:{self.port}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What an httpx client passes as `verify` to trust this gateway."""
        return ssl.create_default_context(cafile=self.https_ca) if self.https_ca is not None else True

    def start(self) -> GatewayProcess:
        log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "calcifer", "serve", "--config", str(self.workdir / "config.yaml")],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"gateway exited early:\n{self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=0.5, verify=self.verify).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"gateway did not become healthy:\n{self.log()}")

    def health_detail(self, *, new_connection: bool = False) -> dict[str, Any]:
        """`GET /health?detail=1` with the master key this gateway was started with."""
        key = self.env.get("CALCIFER_MASTER_KEY")
        assert key, "start the gateway with CALCIFER_MASTER_KEY to read /health?detail=1"
        headers = {"Authorization": f"Bearer {key}"}
        if new_connection:
            headers["Connection"] = "close"
        response = httpx.get(self.url + "/health?detail=1", headers=headers, timeout=5)
        assert response.status_code == 200, response.text
        detail: dict[str, Any] = response.json()
        return detail

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
