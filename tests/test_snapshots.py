"""SVG snapshots of the main screen (details off and on) and of the sync dialog, at 80x24 and
120x40; details at 80x24 under NO_COLOR and in 16 colours; the final prompt. Update them on
purpose with `make snapshots` and review the diff."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from rich.color import Color, ColorSystem
from rich.segment import Segment
from rich.style import Style
from textual.color import Color as TextualColor
from textual.filter import LineFilter
from textual.pilot import Pilot
from textual.widgets import Input

from tests.conftest import make_app, settle
from tui_sync.tui.screens.confirm_apply import ConfirmApply

SIZES = [(80, 24), (120, 40)]

SnapCompare = Callable[..., bool]


def before(*keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare: SnapCompare, data_dir: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(data_dir), terminal_size=size, run_before=before())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen_with_details(
    snap_compare: SnapCompare, data_dir: Path, size: tuple[int, int]
) -> None:
    assert snap_compare(make_app(data_dir), terminal_size=size, run_before=before("d", "2"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_sync_dialog(snap_compare: SnapCompare, data_dir: Path, size: tuple[int, int]) -> None:
    keys = ("4", "space", "space", "space", "s")
    assert snap_compare(make_app(data_dir), terminal_size=size, run_before=before(*keys))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_sync_plan(snap_compare: SnapCompare, data_dir: Path, size: tuple[int, int]) -> None:
    keys = ("4", "space", "space", "space", "s", "p")
    assert snap_compare(make_app(data_dir), terminal_size=size, run_before=before(*keys))


class SixteenColours(LineFilter):
    """What a 16-colour terminal (TERM=xterm, PuTTY's default) shows: every colour mapped to
    its nearest of the 16, as rich does when it writes to such a terminal."""

    def apply(self, segments: list[Segment], background: TextualColor) -> list[Segment]:
        return [Segment(text, _sixteen(style), control) for text, style, control in segments]


def _down(color: Color | None) -> Color | None:
    if color is None:
        return None
    return Color.from_triplet(color.downgrade(ColorSystem.STANDARD).get_truecolor())


def _sixteen(style: Style | None) -> Style | None:
    if style is None:
        return None
    return style + Style.from_color(_down(style.color), _down(style.bgcolor))


def test_details_at_80x24_without_colour(
    snap_compare: SnapCompare, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # Textual reads it when the app is made
    assert snap_compare(make_app(data_dir), terminal_size=(80, 24), run_before=before("d", "2"))


def test_details_at_80x24_in_16_colours(snap_compare: SnapCompare, data_dir: Path) -> None:
    app = make_app(data_dir)
    app._filters.append(SixteenColours())
    assert snap_compare(app, terminal_size=(80, 24), run_before=before("d", "2"))


def test_confirm_prompt(
    snap_compare: SnapCompare, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ConfirmApply, "ARM_SECONDS", 0.0)
    keys = ("2", "space", "space", "space", "s", "tab", "down", "enter", "p", "a")
    typed = before(*keys)

    async def run_before(pilot: Pilot[None]) -> None:
        await typed(pilot)
        # The count's input blinks its cursor twice a second: held still (shown), so the
        # picture does not depend on when it was taken.
        for box in pilot.app.screen.query(Input):
            box.cursor_blink = False
            box._cursor_visible = True
        await pilot.pause()

    assert snap_compare(make_app(data_dir), terminal_size=(80, 24), run_before=run_before)
