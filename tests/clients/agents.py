"""Install and run the real coding agents (Claude Code, Codex CLI) headless, pointed at a
gateway, in throw-away homes, with their telemetry and update checks off and a time limit."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.gateway_process import ROOT

OPT_IN = "CALCIFER_E2E_CLIENTS"
requires_opt_in = pytest.mark.skipif(
    os.environ.get(OPT_IN) != "1",
    reason=f"the real clients are a ~0.8 GB download: set {OPT_IN}=1 to run them (docs/clients.md)",
)
INSTALL_SECONDS = 900
"""The first install downloads about 0.8 GB from the npm registry."""
RUN_SECONDS = 120
"""One headless task; a client that hangs fails its test instead of the suite."""


@dataclass(frozen=True)
class Clients:
    claude: Path
    codex: Path


@dataclass(frozen=True)
class Run:
    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def explain(self) -> str:
        return (
            f"$ {' '.join(self.command)}\nexit {self.returncode} after {self.seconds:.1f} s\n"
            f"--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}"
        )


def install_clients() -> Clients:
    """scripts/install-clients.sh (idempotent: quick once the cache holds the pinned versions)."""
    script = ROOT / "scripts" / "install-clients.sh"
    done = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, timeout=INSTALL_SECONDS, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"{script} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    paths = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return Clients(claude=Path(paths["claude"]), codex=Path(paths["codex"]))


def _base_env(home: Path) -> dict[str, str]:
    """Nothing inherited but PATH: no real provider key, proxy or config of the developer's
    can reach the client."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
            "TERM": "dumb", "NO_COLOR": "1", "DO_NOT_TRACK": "1"}  # fmt: skip


def claude_code_env(home: Path, gateway_url: str, key: str, model: str | None) -> dict[str, str]:
    """`model` None leaves Claude Code on its default model name (the catalog aliases it)."""
    env = _base_env(home) | {
        "ANTHROPIC_BASE_URL": gateway_url,  # no /v1: Claude Code appends /v1/messages
        "ANTHROPIC_API_KEY": key,  # sent as x-api-key
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        # --dangerously-skip-permissions refuses to run as root unless told it is in a sandbox
        "IS_SANDBOX": "1",
    }
    if model is not None:
        env |= {"ANTHROPIC_MODEL": model, "ANTHROPIC_SMALL_FAST_MODEL": model}
    return env


def run_claude_code(binary: Path, env: dict[str, str], workdir: Path, prompt: str) -> Run:
    return run([str(binary), "-p", prompt, "--dangerously-skip-permissions"], workdir, env)


CODEX_CONFIG = """\
model = "{model}"
model_provider = "calcifer"
check_for_update_on_startup = false

[model_providers.calcifer]
name = "Calcifer"
base_url = "{gateway_url}/v1"
env_key = "CALCIFER_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false
"""


def codex_env(
    home: Path, gateway_url: str, key: str, model: str, reasoning_effort: str | None = None
) -> dict[str, str]:
    """Writes $CODEX_HOME/config.toml with a `calcifer` provider pointed at the gateway."""
    codex_home = home / "codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    config = CODEX_CONFIG.format(model=model, gateway_url=gateway_url)
    if reasoning_effort is not None:
        config = f'model_reasoning_effort = "{reasoning_effort}"\n' + config
    (codex_home / "config.toml").write_text(config)
    return _base_env(home) | {"CODEX_HOME": str(codex_home), "CALCIFER_API_KEY": key}


def run_codex(binary: Path, env: dict[str, str], workdir: Path, prompt: str) -> Run:
    command = [
        str(binary),
        "exec",
        "--strict-config",
        "--skip-git-repo-check",
        "-s",
        "danger-full-access",
        prompt,
    ]
    return run(command, workdir, env)


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = RUN_SECONDS) -> Run:
    """Run in a session of its own so a timeout ends the client and every child it started
    (the Codex shim runs a native binary; tools run shells)."""
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _end_leftovers(process.pid)
        stdout, stderr = process.communicate()
        late = Run(command, -1, stdout, stderr, time.monotonic() - started)
        pytest.fail(f"the client did not finish within {timeout} s\n{late.explain()}")
    _end_leftovers(process.pid)
    return Run(command, process.returncode, stdout, stderr, time.monotonic() - started)


def _end_leftovers(group: int) -> None:
    """A shell a tool left running in the background must not outlive the test."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
