"""Hostile remote text through every screen of the console: planted on the sandbox's remote side,
refreshed in, then every screen is opened and what would reach the terminal is checked."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from rich.cells import cell_len

from tests.conftest import FIXED_TIME, settle
from tests.screen import raw_controls, screen_strips, screen_text
from tui_sync.config import SANDBOX_PAIR
from tui_sync.model import Side
from tui_sync.sandbox import outside
from tui_sync.tui.app import TuiSyncApp
from tui_sync.tui.messages import WorkFailed
from tui_sync.tui.screens.confirm_apply import ConfirmApply
from tui_sync.tui.screens.row_detail import RowDetailScreen
from tui_sync.tui.screens.run_log import RunLogScreen
from tui_sync.tui.screens.sync_dialog import SyncDialog

HOSTILE = {
    "osc0": "\x1b]0;t\x07",
    "osc52": "\x1b]52;c;aGk=\x07",
    "dcs": "\x1bP1$r\x1b\\",
    "c1": "\x9b31m",
    "rlo": "\u202e",
    "nul": "\x00",
    "bracket": "[",
    "close": "[/]",
    "long": "L" * 10_000,
    "zwj": "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "cjk": "日本語の名前",
}


@pytest.fixture(autouse=True)
def no_arm_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ConfirmApply, "ARM_SECONDS", 0.0)


def plant(data_dir: Path) -> list[str]:
    """Hostile SKUs, names and brands on matched simple items of both sides, the store's
    quantity off by one so they are out of sync; returns the SKUs, in grid (SKU) order."""
    store, books = outside.skus(data_dir, "store"), outside.skus(data_dir, "backoffice")
    counts = Counter([*store.values(), *books.values()])
    by_sku = {sku: item_id for item_id, sku in books.items() if sku and counts[sku] == 2}
    held = outside.values(data_dir)
    pairs = sorted(
        (sku, item_id, by_sku[sku])
        for item_id, sku in store.items()
        if sku in by_sku and ":" not in item_id and held[("store", item_id)][0] is not None
    )[: len(HOSTILE)]
    skus: list[str] = []
    for (_, store_id, books_id), (key, text) in zip(pairs, HOSTILE.items(), strict=True):
        sku = f"AA{len(skus):02d}{text[:40]}{key}"
        skus.append(sku)
        sides: tuple[tuple[Side, str], ...] = (("store", store_id), ("backoffice", books_id))
        for side, item_id in sides:
            outside.set_text(data_dir, side, item_id, "sku", sku)
            outside.set_text(data_dir, side, item_id, "name", f"{text} name {item_id}")
        outside.set_text(data_dir, "store", store_id, "brand", f"{text} brand")
        quantity = int(held[("store", store_id)][0] or 0) + 1
        outside.set_value(data_dir, "store", store_id, "quantity", quantity)
    return sorted(skus)


def assert_inert(app: TuiSyncApp, where: str) -> str:
    shown = screen_text(app)
    assert not raw_controls(shown), (where, raw_controls(shown))
    # A joiner makes terminals disagree on a sequence's width: it must not reach one.
    assert "\u200d" not in shown, where
    # Every line is exactly the terminal's width, counted by what the terminal draws.
    for strip in screen_strips(app):
        assert sum(cell_len(seg.text) for seg in strip) == app.size.width, where
    return shown


async def test_hostile_text_is_inert_on_every_screen(data_dir: Path) -> None:
    skus = plant(data_dir)
    store = replace(SANDBOX_PAIR.store, name="shop\x1b]0;owned\x07[b]")
    pair = replace(SANDBOX_PAIR, store=store)
    app = TuiSyncApp(data_dir, pair, clock=lambda: FIXED_TIME)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        shown = assert_inert(app, "grid")
        assert "␛]0;t␇" in shown and "\\x9b31m" in shown and "<U+202E>" in shown
        assert "shop␛]0;owned␇[b]" in shown  # the title: config text, plain too
        grid = app.grid
        for y in range(grid.size.height):  # every grid line exactly the grid's width
            strip = grid.render_line(y)
            assert sum(cell_len(seg.text) for seg in strip) == grid.scrollable_content_region.width

        for index in range(len(skus)):  # row detail of each hostile row
            grid.cursor_row = index
            await pilot.press("enter")
            assert isinstance(app.screen, RowDetailScreen)
            assert_inert(app, f"row detail {index}")
            await pilot.press("escape")

        # The hostile rows are the first of the All view (their SKUs sort first): select them.
        await pilot.press("home", *["shift+down"] * (len(skus) - 1), "s")
        assert isinstance(app.screen, SyncDialog)
        await pilot.press("p")
        plan = assert_inert(app, "plan")
        assert "␛P1$r" in plan
        await pilot.press("a")
        assert_inert(app, "confirm")
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "written" in screen_text(app)
        assert_inert(app, "after the run, with its notification")

        await pilot.press("l")
        assert isinstance(app.screen, RunLogScreen)
        await pilot.pause()
        log = assert_inert(app, "run log")
        assert "AA00␛]0;t␇osc0" in log and "AA07[/]close" in log
        await pilot.press("escape")

        app.post_message(WorkFailed("Refresh", f"bad SKU {HOSTILE['close']}{HOSTILE['osc52']}"))
        await pilot.pause()
        failed = assert_inert(app, "failure notification and status line")
        assert "bad SKU [/]␛]52" in failed


def test_planted_skus_are_hostile(data_dir: Path) -> None:
    """The fixture itself: the planted rows really hold the raw characters."""
    skus = plant(data_dir)
    assert any("\x1b" in s for s in skus) and any("\x9b" in s for s in skus)
    assert any("\x00" in s for s in skus) and any("[/]" in s for s in skus)
