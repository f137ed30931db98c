"""What the browser tests share: Debian's chromium, a free port, a `buyingsim` server started
until it answers and stopped with its children."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
REPO_ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = REPO_ROOT / "output" / "screenshots"  # ignored by git; docs/img holds copies
SERVER_START_SECONDS = 90

if not CHROMIUM.exists():
    pytest.fail(f"{CHROMIUM} is missing: run `make test` (it installs chromium with apt) or "
                "`apt-get install -y chromium`", pytrace=False)

from playwright.sync_api import Browser, sync_playwright  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(arguments: list[str], url: str, log: Path) -> subprocess.Popen:
    """Run ``buyingsim ARGUMENTS`` in its own process group, logging to ``log``, and return once
    ``url`` answers (the test fails, with the log, if it exits or never answers)."""
    with log.open("a") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "sim.cli", *arguments], cwd=REPO_ROOT, stdout=sink,
            stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )  # fmt: skip
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        if process.poll() is not None:
            pytest.fail(f"`buyingsim {arguments[0]}` exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/", timeout=5) as response:
                if response.status == 200:
                    return process
        except OSError:
            if time.monotonic() > deadline:
                stop_server(process)
                pytest.fail(f"`buyingsim {arguments[0]}` did not answer in {SERVER_START_SECONDS} s:\n"
                            f"{log.read_text()}")
            time.sleep(0.25)  # polling the server until it answers, not waiting to pass


def stop_server(process: subprocess.Popen) -> None:
    """Stop a server started by :func:`start_server`, and every process it started."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium under Playwright (Playwright's own browsers are never downloaded)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
