"""``buyingsim dashboard``: serve the Solara dashboards (explorer and compare page) locally.

The app lives in ``dashboards/`` next to the ``sim`` package (an editable install from a
clone). Browser assets come from the ``solara-assets`` package, so the pages render with no
internet access; telemetry and the version check are switched off for the same reason. The
server listens on 127.0.0.1 unless ``--host`` says otherwise. A closed browser tab ends its
session at once; a session whose browser vanished without closing it (a crash, a lost
connection) ends after ``SESSION_TIMEOUT`` instead of Solara's default of 24 hours.
"""

from __future__ import annotations

import os
import socket
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_MODULE = "dashboards.app"
SESSION_TIMEOUT = "10m"
SERVER_ENVIRONMENT = {  # defaults: a variable already set in the environment wins
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",  # no analytics calls to the internet
    "SOLARA_ASSETS_PROXY": "True",  # serve CDN assets from the installed solara-assets copy
    "SOLARA_KERNEL_CULL_TIMEOUT": SESSION_TIMEOUT,  # free a disconnected session's memory
    "SOLARA_THEME_SHOW_BANNER": "False",  # no "runs on Solara" banner over the charts
}


def _fail(message: str) -> None:
    """One line on stderr, exit code 2 (the CLI's convention for user mistakes)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _check_port(host: str, port: int) -> None:
    """Fail early with one line if the address cannot be listened on."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        _fail(f"--host {host}: cannot resolve ({error.strerror})")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            _fail(f"cannot listen on {host}:{port} ({error.strerror}); try another --port")


def dashboard(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8765,
    host: Annotated[
        str, typer.Option(help="Address to listen on (default: this machine only).")
    ] = "127.0.0.1",
) -> None:
    """Serve the interactive dashboards: explore one deal, compare the strategies."""
    if not (REPO_ROOT / "dashboards" / "app.py").exists():
        _fail(
            f"{REPO_ROOT / 'dashboards'}: dashboard app not found; install the project from a "
            "clone with `pip install -e '.[dashboard]'`"
        )
    _check_port(host, port)
    for name, value in SERVER_ENVIRONMENT.items():  # before Solara reads its settings on import
        os.environ.setdefault(name, value)
    try:
        from solara.__main__ import cli as solara_cli
    except ModuleNotFoundError:
        _fail("the dashboard needs its extra packages: pip install -e '.[dashboard]'")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    # Solara warns on every page load that its cross-site cookie needs https; on a local
    # http server it falls back to a same-site cookie, which is what a local app wants.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    from sim.engine import warm_up

    warm_up()  # the kernels compile (or load from the disk cache) now, never on a user's click
    shown = f"[{host}]" if ":" in host else host
    typer.echo(
        f"Dashboard: http://{shown}:{port}/  (compare strategies: "
        f"http://{shown}:{port}/compare); press Ctrl+C to stop"
    )
    sys.stdout.flush()
    solara_cli.main(
        [
            "run",
            APP_MODULE,
            "--host",
            host,
            "--port",
            str(port),
            "--production",
            "--no-open",
            "--no-check-version",
            "--log-level",
            "warning",
        ],
        prog_name="buyingsim dashboard",
        standalone_mode=True,
    )


def register(app: typer.Typer) -> None:
    """Add the ``dashboard`` command to the ``buyingsim`` app."""
    app.command()(dashboard)
