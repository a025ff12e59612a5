"""SVG snapshots of the main screen (details off and on) and of the sync dialog, at 80x24 and
120x40. Update them on purpose with `make snapshots` and review the diff."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.conftest import make_app, settle

SIZES = [(80, 24), (120, 40)]

SnapCompare = Callable[..., bool]


def before(*keys: str) -> Callable[[Pilot[None]], object]:
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
