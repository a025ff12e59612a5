"""Keys from the config's `[keys]`: a remapped key works, the old one no longer does, `q` always
quits; `tui-sync keys` prints the effective map and every clash; bad ids and keys are named."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import FIXED_TIME
from tests.screen import screen_text
from tui_sync.cli import main
from tui_sync.config import SANDBOX_PAIR
from tui_sync.tui.app import TuiSyncApp
from tui_sync.tui.screens.help import HelpScreen
from tui_sync.tui.screens.run_log import RunLogScreen


def keyed_app(data_dir: Path, keys: dict[str, tuple[str, ...]]) -> TuiSyncApp:
    return TuiSyncApp(
        data_dir, SANDBOX_PAIR, clock=lambda: FIXED_TIME, refresh_on_start=False, keys=keys
    )


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


async def test_a_remapped_key_works_and_the_default_no_longer_does(data_dir: Path) -> None:
    app = keyed_app(data_dir, {"help": ("f2",), "log": ("ctrl+l",)})
    async with app.run_test(size=(100, 60)) as pilot:  # tall enough for every key of the help
        await pilot.press("question_mark")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f2")
        assert isinstance(app.screen, HelpScreen)
        assert "f2" in screen_text(app)  # the help lists the key as mapped
        await pilot.press("escape", "l")
        assert not isinstance(app.screen, RunLogScreen)
        await pilot.press("ctrl+l")
        assert isinstance(app.screen, RunLogScreen)


async def test_q_quits_whatever_the_keymap_says(data_dir: Path) -> None:
    # quit moved to x and refresh put on q: q still quits (ctrl+q is Textual's own, always).
    app = keyed_app(data_dir, {"quit": ("x",), "refresh": ("q",)})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0  # the app is on its way out
        assert app.busy is None  # and q did not start a refresh


async def test_the_remapped_quit_key_quits_too(data_dir: Path) -> None:
    app = keyed_app(data_dir, {"quit": ("x",)})
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.return_code is None
        await pilot.press("x")
        await pilot.pause()
        assert app.return_code == 0


def test_keys_prints_the_map_and_a_clash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path, '[keys]\nsync = "r"\nhelp = ["f1", "?"]\nlog = "q"\n')
    assert main(["--config", str(path), "keys"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line and line[0].isalpha()}
    assert lines["sync"].split()[1] == "r" and "*" in lines["sync"]
    assert "f1 ?" in lines["help"]
    assert "(none)" in lines["refresh"]  # its r went to sync
    assert "clash: r: no longer refresh (its default), now sync" in out
    assert "clash: q: not for log, q always quits" in out
    assert lines["quit"].split()[1:3] == ["q", "ctrl+q"]


def test_keys_without_a_config_prints_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys"]) == 0
    out = capsys.readouterr().out
    assert "undo" in out and "run log" in out and "clash" not in out


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[keys]\nsnyc = "x"', "keys.snyc: unknown action 'snyc' (did you mean sync?)"),
        ('[keys]\nsync = "cmd+x"', "keys.sync: unknown modifier 'cmd'"),
        ('[keys]\nsync = "frobnicate"', "keys.sync: unknown key 'frobnicate'"),
        ("[keys]\nsync = 3", "keys.sync: expected a key or keys"),
        ('theme = "pink"', "theme: expected one of dark, light, 16-colour, monochrome"),
    ],
)
def test_a_bad_keys_entry_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, named: str
) -> None:
    path = config(tmp_path, text)
    assert main(["--config", str(path), "keys"]) == 2
    err = capsys.readouterr().err
    assert named in err and len(err.strip().splitlines()) == 1


async def test_the_run_logs_undo_key_is_remappable(data_dir: Path) -> None:
    from tests.test_undo_console import sync_three, until
    from tui_sync.tui.screens.sync_dialog import SyncDialog

    await asyncio.to_thread(sync_three, data_dir)
    app = keyed_app(data_dir, {"undo": ("U",)})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")
        log = app.screen
        assert isinstance(log, RunLogScreen)
        await until(pilot, "the runs are read", lambda: log.loaded)
        await pilot.press("u")
        assert app.screen is log
        await pilot.press("U")
        assert isinstance(app.screen, SyncDialog)
