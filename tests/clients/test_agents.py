"""The client runner's own promises, checked with plain shell commands (no client needed)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.clients.agents import run


def test_a_client_past_its_time_limit_fails_its_test_and_takes_its_children_with_it(tmp_path: Path) -> None:
    started = time.monotonic()
    command = ["bash", "-c", f"sleep 60 & echo $! > {tmp_path / 'child'}; wait"]
    with pytest.raises(pytest.fail.Exception, match="did not finish within 1 s"):
        run(command, tmp_path, {"PATH": os.environ["PATH"]}, timeout=1)
    assert time.monotonic() - started < 10
    assert not _running(int((tmp_path / "child").read_text()))


def test_a_background_process_a_finished_client_left_behind_is_ended(tmp_path: Path) -> None:
    command = ["bash", "-c", f"(sleep 60 & echo $! > {tmp_path / 'child'}) >/dev/null 2>&1"]
    done = run(command, tmp_path, {"PATH": os.environ["PATH"]})
    assert done.returncode == 0
    assert not _running(int((tmp_path / "child").read_text()))


def _running(pid: int) -> bool:
    """Alive and not a zombie (a killed orphan waits a moment for init to reap it)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        if state == "Z":
            return False
        time.sleep(0.05)
    return True
