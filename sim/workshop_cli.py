"""``buyingsim workshop``: serve the workshop pages (team page, facilitator console, projector).

Served like ``buyingsim dashboard`` (same offline settings, same checks): Solara with its
browser assets from the installed ``solara-assets`` copy, no telemetry, 127.0.0.1 unless
``--host`` says otherwise. Sessions live in one SQLite file in ``--data-dir``; restarting the
server resumes every session where it was.
"""

from __future__ import annotations

import os
import socket
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from sim.dashboard_cli import REPO_ROOT, SERVER_ENVIRONMENT, _check_port, _fail

APP_MODULE = "workshop.app"


def room_address(host: str) -> str:
    """The address teams type: this machine's address on the room network when listening on
    every interface, else the host as given."""
    if host not in ("0.0.0.0", "::", ""):
        return f"[{host}]" if ":" in host else host
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the interface
            return probe.getsockname()[0]
        except OSError:
            return socket.gethostname()


def workshop(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8766,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on (default: this machine only; 0.0.0.0 for a room network)."),
    ] = "127.0.0.1",
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Directory of the sessions' SQLite file (default ~/.buyingsim/workshop)."),
    ] = None,
) -> None:
    """Serve the workshop: teams play vendors against the same buying groups, round by round."""
    if not (REPO_ROOT / "workshop" / "app.py").exists():
        _fail(f"{REPO_ROOT / 'workshop'}: workshop app not found; install the project from a clone")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from workshop.store import DATA_DIR_VARIABLE, DEFAULT_DATA_DIR

    data_dir = data_dir or DEFAULT_DATA_DIR
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / ".write-check"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        _fail(f"--data-dir {data_dir}: not a writable directory ({error.strerror})")
    _check_port(host, port)
    for name, value in SERVER_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    os.environ[DATA_DIR_VARIABLE] = str(data_dir.resolve())
    try:
        from solara.__main__ import cli as solara_cli
    except ModuleNotFoundError:
        _fail("the workshop needs the dashboard's extra packages: pip install -e '.[dashboard]'")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    from sim.engine import warm_up

    warm_up()
    address = room_address(host)
    typer.echo(
        f"Workshop: facilitator console http://{address}:{port}/facilitator\n"
        f"  teams join at http://{address}:{port}/team  (projector: /projector?code=JOINCODE)\n"
        f"  sessions stored in {data_dir.resolve()}; press Ctrl+C to stop"
    )
    sys.stdout.flush()
    solara_cli.main(
        ["run", APP_MODULE, "--host", host, "--port", str(port), "--production", "--no-open",
         "--no-check-version", "--log-level", "warning"],
        prog_name="buyingsim workshop",
        standalone_mode=True,
    )  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the ``workshop`` command to the ``buyingsim`` app."""
    app.command()(workshop)
