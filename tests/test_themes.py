"""Themes (config `theme`, `[console] theme`, the command palette): dark, light, 16-colour and
monochrome, each keeping S/N cells legible; and the title names the pair, sandbox or LIVE, and
the master, within 80 columns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rich.color import ColorType
from rich.segment import Segment
from textual.pilot import Pilot

from tests.conftest import FIXED_TIME
from tests.screen import screen_strips, screen_text
from tui_sync.cli import main
from tui_sync.config import SANDBOX_PAIR, Connection, PairConfig, load_config
from tui_sync.refresh import refresh
from tui_sync.tui import themes
from tui_sync.tui.app import TuiSyncApp, title_text


def themed_app(data_dir: Path, theme: str | None) -> TuiSyncApp:
    return TuiSyncApp(
        data_dir, SANDBOX_PAIR, clock=lambda: FIXED_TIME, refresh_on_start=False, theme=theme
    )


async def n_cells(app: TuiSyncApp, pilot: Pilot[None]) -> list[Segment]:
    """The N code cells on screen, details on, in the Out of sync view (below the cursor row)."""
    await pilot.press("d", "2", "down")
    await pilot.pause()
    grid_lines = screen_strips(app)[5:12]
    return [seg for strip in grid_lines for seg in strip if seg.text.strip() == "N"]


@pytest.fixture
def refreshed(data_dir: Path) -> Path:
    refresh(data_dir, SANDBOX_PAIR)
    return data_dir


async def until(pilot: Pilot[None], ok: Callable[[], bool]) -> None:
    for _ in range(500):
        if ok():
            return
        await pilot.pause(0.02)
    raise AssertionError("the screen never got there")


async def test_monochrome_shows_n_cells_in_reverse_video(refreshed: Path) -> None:
    app = themed_app(refreshed, "monochrome")
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == themes.MONOCHROME and app.no_color
        cells = await n_cells(app, pilot)
        assert cells and all(seg.style is not None and seg.style.reverse for seg in cells)


async def test_16_colour_writes_n_in_the_terminals_own_red(refreshed: Path) -> None:
    app = themed_app(refreshed, "16-colour")
    async with app.run_test(size=(80, 24)) as pilot:
        cells = await n_cells(app, pilot)
        colours = {seg.style.color for seg in cells if seg.style is not None}
        assert colours and all(
            c is not None and c.type is ColorType.STANDARD and c.number == 9 for c in colours
        )


async def test_the_command_palette_switches_to_monochrome_and_back(refreshed: Path) -> None:
    app = themed_app(refreshed, None)
    async with app.run_test(size=(80, 24)) as pilot:
        assert not app.no_color
        await pilot.press("ctrl+p", *"theme")
        await until(pilot, lambda: "Change the current theme" in screen_text(app))
        await pilot.press("enter")
        await until(pilot, lambda: "Search for themes" in screen_text(app))
        await pilot.press(*"tui-sync-mono")
        await until(pilot, lambda: themes.MONOCHROME in screen_text(app))
        await pilot.press("enter")
        await until(pilot, lambda: app.theme == themes.MONOCHROME)
        assert app.no_color
        cells = await n_cells(app, pilot)
        assert cells and all(seg.style is not None and seg.style.reverse for seg in cells)
        app.theme = "textual-light"
        await pilot.pause()
        assert not app.no_color  # colour is back with any other theme


def test_the_theme_setting_is_read_at_the_top_or_in_console(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[console]\ntheme = "light"\n')
    assert load_config(path).theme == "light"
    path.write_text('theme = "16-colour"\n')
    assert load_config(path).theme == "16-colour"
    path.write_text('theme = "light"\n[console]\ntheme = "dark"\n')
    assert main(["--config", str(path), "keys"]) == 2


def test_the_title_says_sandbox_or_live_and_the_master_within_80_columns() -> None:
    sandbox = title_text(SANDBOX_PAIR, "refreshed 12:00:00", 78)
    assert sandbox.cell_len <= 78
    assert "SANDBOX" in sandbox.plain and "sandbox-books (master)" in sandbox.plain
    live = PairConfig(
        "main",
        Connection("shop-with-a-rather-long-connection-name", "bigcommerce", {}),
        Connection("books", "quickbooks", {}),
        master="store",
    )
    text = title_text(live, "refreshed 12:00:00", 78)
    assert text.cell_len <= 78
    assert " LIVE " in text.plain and "(master) ⇄ books" in text.plain
    assert "main" in text.plain and "12:00:00" in text.plain


async def test_the_console_title_at_80x24(refreshed: Path) -> None:
    app = themed_app(refreshed, None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        first = screen_text(app).splitlines()[0]
        assert "sandbox SANDBOX: sandbox-store ⇄ sandbox-books (master)" in first
