"""Shared fixtures: a seeded sandbox in a temporary data dir, and the console on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.writekit import ram_dir
from tui_sync.config import SANDBOX_PAIR
from tui_sync.sandbox.state import FOLDER, ensure_sandbox
from tui_sync.tui.app import TuiSyncApp

SANDBOX_SIZE = 400
FIXED_TIME = datetime(2026, 11, 23, 12, 0, 0)


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test ever reads the user's real config or data."""
    monkeypatch.setenv("TUI_SYNC_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("TUI_SYNC_HOME", str(tmp_path / "no-data"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    ensure_sandbox(path, size=SANDBOX_SIZE)
    return path


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded 150-SKU sandbox's vendor state, made once per module: each hypothesis example
    copies it into its own data dir rather than seeding one."""
    path = tmp_path_factory.mktemp("template")
    ensure_sandbox(path, size=150)
    return path / FOLDER


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """A folder for an example's data dirs, in RAM where the machine has it."""
    with ram_dir(tmp_path) as root:
        yield root


def make_app(data_dir: Path) -> TuiSyncApp:
    return TuiSyncApp(data_dir, SANDBOX_PAIR, clock=lambda: FIXED_TIME)


async def settle(pilot: Pilot[None]) -> None:
    """Wait until the start-up refresh has finished *and* its result reached the screen.

    A worker finishing is not enough: its RefreshDone message may still be queued, and a key
    pressed before it is handled would act on rows the refresh then replaces."""
    app = pilot.app
    assert isinstance(app, TuiSyncApp)
    for _ in range(400):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.busy is None and app.last_refresh.startswith("refreshed"):
            return
        await pilot.pause(0.025)
    raise AssertionError("the console did not finish its first refresh")


def clipboard(app: TuiSyncApp, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the app hands to Textual's OSC 52 clipboard, by wrapping the real method."""
    sent: list[str] = []
    real = app.copy_to_clipboard

    def wrapped(text: str) -> None:
        sent.append(text)
        real(text)

    monkeypatch.setattr(app, "copy_to_clipboard", wrapped)
    return sent
