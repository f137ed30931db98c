"""A ``buyingsim dashboard`` server for the dashboard benchmarks (started, then stopped)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 120
# True once the explorer shows week ``arg`` and every interactive chart has been drawn for it
# (each chart draws once when the page opens and once per week).
CHART_DRAWN = """(week) => {
    const facts = document.querySelector('.deal-facts');
    if (!facts || Number(facts.dataset.week) !== week) return false;
    return [...document.querySelectorAll('.vega-chart')].every(
        chart => Number(chart.dataset.draws || 0) >= week + 1);
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_server() -> Iterator[tuple[str, int]]:
    """The URL and process id of a dashboard server on a free local port, stopped afterwards."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sim.cli", "dashboard", "--port", str(port)], cwd=REPO_ROOT,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"})
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_SECONDS
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"server exited: {log.read().decode()[-2000:]}")
                try:
                    with urllib.request.urlopen(url + "/", timeout=5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("server did not answer") from None
                    time.sleep(0.25)
            yield url, process.pid
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
