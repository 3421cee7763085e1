"""`allocator app`: the command around the web app (the app itself: test_app_*.py)."""

from __future__ import annotations

import importlib.util

from click.testing import CliRunner

from allocator.cli import main
from allocator.cli.app import INSTALL, free_port, streamlit_command


def test_without_the_extra_it_says_how_to_install_it(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "streamlit" else real(name, *a))
    result = CliRunner().invoke(main, ["app", "quickstart", "--no-browser"])
    assert result.exit_code == 2
    assert result.output.strip() == f"Error: {INSTALL}"
    assert "pip install 'allocator[app]'" in result.output and "Traceback" not in result.output


def test_an_unknown_scenario_is_exit_2_before_anything_starts():
    result = CliRunner().invoke(main, ["app", "no-such-scenario", "--no-browser"])
    assert result.exit_code == 2
    assert "no-such-scenario: no such scenario folder or file" in result.output


def test_the_streamlit_command_is_local_headless_and_capped():
    port = free_port("127.0.0.1")
    command = streamlit_command("/s/quickstart", "127.0.0.1", port, browser=False)
    assert f"--server.port={port}" in command and "--server.address=127.0.0.1" in command
    assert "--server.headless=true" in command and "--server.maxUploadSize=50" in command
    assert command[-3:] == ["--", "--scenario", "/s/quickstart"]
    assert command[4].endswith("allocator/app/main.py")
