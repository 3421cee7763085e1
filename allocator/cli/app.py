"""``allocator app``: the web app for people who do not write Python (Streamlit, an optional extra).

The command checks that Streamlit is installed (a one-line message and exit 2 if not), picks a
free port on the chosen host, and runs ``streamlit run allocator/app/main.py`` with the
scenario after ``--``. Nothing of the app is imported here: `allocator --help` stays fast.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import click

from allocator.cli.base import EXIT_BAD_INPUT, _Fail, main

APP = Path(__file__).resolve().parents[1] / "app" / "main.py"
INSTALL = "allocator app needs the web app extra: pip install 'allocator[app]' (Streamlit)"
UPLOAD_MB = 50


def free_port(host: str) -> int:
    """A port nothing listens on at ``host`` now (the system picks it)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def streamlit_command(scenario: str | None, host: str, port: int, browser: bool) -> list[str]:
    """The ``streamlit run`` command line: local, no usage statistics, uploads up to 50 MB.

    >>> cmd = streamlit_command("quickstart", "127.0.0.1", 8600, False)
    >>> cmd[1:4], cmd[-2:]
    (['-m', 'streamlit', 'run'], ['--scenario', 'quickstart'])
    >>> "--server.headless=true" in cmd, "--browser.gatherUsageStats=false" in cmd
    (True, True)
    """
    command = [sys.executable, "-m", "streamlit", "run", str(APP),
               f"--server.address={host}", f"--server.port={port}",
               f"--server.headless={'false' if browser else 'true'}",
               "--browser.gatherUsageStats=false", f"--server.maxUploadSize={UPLOAD_MB}",
               "--server.fileWatcherType=none", "--global.developmentMode=false", "--client.toolbarMode=minimal"]
    return command + (["--", "--scenario", scenario] if scenario else [])


@main.command()
@click.argument("scenario", required=False)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; another than 127.0.0.1 shares the app on your network.")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Port to listen on (default: a free one).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser (print the address only).")
def app(scenario, host, port, no_browser) -> None:
    """Start the web app on this machine: choose a scenario, change the rules, see the answer.

    SCENARIO (optional) is a bundled scenario's name or a folder; the app can also load one,
    take an uploaded workbook or zip, or build one for a place. Needs the extra:
    pip install 'allocator[app]'.

    \b
    Example:
      allocator app england-la
      allocator app --host 0.0.0.0 --port 8501 --no-browser
    """
    if importlib.util.find_spec("streamlit") is None:
        raise _Fail(INSTALL, EXIT_BAD_INPUT)
    if scenario is not None:
        from allocator.scenario.bundled import resolve

        found = resolve(scenario)
        if not found.exists():
            raise _Fail(f"{scenario}: no such scenario folder or file, and not a bundled scenario's name",
                        EXIT_BAD_INPUT)
        scenario = str(found.resolve())
    local = host in ("127.0.0.1", "localhost", "::1")
    if not local:
        click.echo(f"Warning: listening on {host}: anyone who can reach this machine on the network can use "
                   "the app and upload files to it (it will not open folders of this machine by name).", err=True)
    try:
        port = port or free_port(host)
    except OSError as exc:
        raise _Fail(f"--host {host}: cannot listen there ({exc.strerror or exc})", EXIT_BAD_INPUT) from None
    click.echo(f"allocator app: http://{host}:{port}  (Ctrl+C to stop)")
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", ALLOCATOR_APP_SHARED="0" if local else "1")
    try:
        completed = subprocess.run(streamlit_command(scenario, host, port, not no_browser), env=env, check=False)
    except KeyboardInterrupt:
        raise SystemExit(0) from None
    if completed.returncode not in (0, -2, 130):
        raise _Fail(f"the app stopped with exit code {completed.returncode}", 1)
