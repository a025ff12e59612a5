"""The sync dialog: stray keys never write, the last prompt names what it writes, and the rows a
sync acts on are the ones the user chose and can see."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.conftest import make_app, settle
from tests.screen import screen_text
from tui_sync import journal
from tui_sync.model import Row
from tui_sync.sandbox import outside
from tui_sync.tui.app import TuiSyncApp
from tui_sync.tui.screens.confirm_apply import ConfirmApply
from tui_sync.tui.screens.sync_dialog import SyncDialog


@pytest.fixture(autouse=True)
def no_arm_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ConfirmApply, "ARM_SECONDS", 0.0)


def remote(data_dir: Path) -> list[tuple[object, ...]]:
    """What the sandbox's two vendors hold: (side, id, quantity, price, cost)."""
    return [(*key, *held) for key, held in sorted(outside.values(data_dir).items())]


def runs(app: TuiSyncApp) -> int:
    return len(journal.runs(app.cache, pair="sandbox", limit=100))


async def select_out_of_sync(app: TuiSyncApp, pilot: Pilot[None], count: int = 3) -> None:
    await settle(pilot)
    await pilot.press("2", *["space"] * count)


@pytest.mark.parametrize("to_master", [False, True], ids=["store", "master"])
async def test_stray_enters_after_show_plan_write_nothing(data_dir: Path, to_master: bool) -> None:
    before = remote(data_dir)
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await select_out_of_sync(app, pilot)
        await pilot.press("s")
        if to_master:
            await pilot.press("tab", "down", "enter")  # Update: Back office (master)
        await pilot.press("p")
        dialog = app.screen
        assert isinstance(dialog, SyncDialog) and dialog.plan is not None
        assert not dialog.plan.is_empty
        assert app.focused is not None and app.focused.id == "back"  # focus starts on Back
        await pilot.press("enter", "enter", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmApply)
        assert app.busy is None and runs(app) == 0
    assert remote(data_dir) == before


async def test_final_prompt_names_side_count_and_not_master(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await select_out_of_sync(app, pilot)
        await pilot.press("s", "p")
        dialog = app.screen
        assert isinstance(dialog, SyncDialog) and dialog.plan is not None
        count = len(dialog.plan.changes)
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmApply)
        shown = screen_text(app)
        assert f"Write {count} change(s) to the store (not the master)" in shown
        assert "From the view “Out of sync”, no filter" in shown
        await pilot.press("enter", "enter")  # Enter does not write here either
        assert isinstance(app.screen, ConfirmApply) and runs(app) == 0
        await pilot.press("y")
        await settle_run(app, pilot)
        assert runs(app) == 1


async def settle_run(app: TuiSyncApp, pilot: Pilot[None]) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_writing_the_master_asks_for_the_count_typed(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await select_out_of_sync(app, pilot)
        await pilot.press("s", "tab", "down", "enter", "p")
        dialog = app.screen
        assert isinstance(dialog, SyncDialog) and dialog.plan is not None
        count = len(dialog.plan.changes)
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmApply)
        shown = screen_text(app)
        assert f"Write {count} change(s) to the back office — the MASTER" in shown
        assert f"Type {count} and press Enter" in shown
        await pilot.press("y", "enter")  # y is not enough for the master
        assert isinstance(app.screen, ConfirmApply) and runs(app) == 0
        await pilot.press(*str(count + 1), "enter")  # a wrong count neither
        assert isinstance(app.screen, ConfirmApply) and runs(app) == 0
        await pilot.press(*str(count), "enter")
        await settle_run(app, pilot)
        assert runs(app) == 1


async def test_a_big_plan_asks_for_the_count_typed(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ConfirmApply, "TYPE_COUNT_OVER", 2)
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await select_out_of_sync(app, pilot)
        await pilot.press("s", "p", "a")
        assert isinstance(app.screen, ConfirmApply)
        assert "(not the master)" in screen_text(app) and "and press Enter" in screen_text(app)
        await pilot.press("y")
        assert isinstance(app.screen, ConfirmApply) and runs(app) == 0


async def test_keys_right_after_the_prompt_appears_are_ignored(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [100.0]
    monkeypatch.setattr(ConfirmApply, "ARM_SECONDS", 0.5)
    monkeypatch.setattr(ConfirmApply, "clock", staticmethod(lambda: now[0]))
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await select_out_of_sync(app, pilot)
        await pilot.press("s", "p", "a")
        assert isinstance(app.screen, ConfirmApply)
        now[0] += 0.4  # an auto-repeated key, still inside the window
        await pilot.press("y", "y")
        assert isinstance(app.screen, ConfirmApply) and runs(app) == 0
        now[0] += 0.2
        await pilot.press("y")
        await settle_run(app, pilot)
        assert runs(app) == 1


async def test_selection_bar_counts_rows_not_in_the_view(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("space", "space", "space")  # All view: base rows, in-sync rows
        assert "3 selected (0 not in this view)" in screen_text(app)
        await pilot.press("2")  # Out of sync: the first rows of All are not in it
        hidden = 3 - app.grid.selected_in_view
        assert hidden > 0
        assert f"3 selected ({hidden} not in this view)" in screen_text(app)
        await pilot.press("space")
        assert f"4 selected ({hidden} not in this view)" in screen_text(app)


async def test_dialog_offers_visible_all_or_cursor_and_plans_the_chosen(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("space", "space")  # two rows of All that are not out of sync
        await pilot.press("2", "space", "space")  # two Out of sync rows
        visible = [r.sku for r in app.grid.source.fetch(0, 2)]  # type: ignore[union-attr]
        await pilot.press("s")
        shown = screen_text(app)
        assert "(x) In this view (2)" in shown
        assert "( ) All 4 (2 not shown)" in shown
        assert "( ) Cursor row only" in shown
        await pilot.press("p")
        dialog = app.screen
        assert isinstance(dialog, SyncDialog) and dialog.plan is not None
        planned = {c.sku for c in dialog.plan.changes} | {r.sku for r in dialog.plan.refusals}
        assert planned == set(visible)
        assert "In this view (2) · From the view “Out of sync”" in screen_text(app)
        await pilot.press("b", "down", "enter", "p")  # All selected
        assert dialog.plan is not None
        planned = {c.sku for c in dialog.plan.changes} | {r.sku for r in dialog.plan.refusals}
        assert len(planned) + dialog.plan.unchanged == 4 and set(visible) <= planned
        await pilot.press("b", "down", "enter", "p")  # the cursor row
        assert dialog.plan is not None
        cursor = app.grid.current_row
        assert cursor is not None
        planned = {c.sku for c in dialog.plan.changes} | {r.sku for r in dialog.plan.refusals}
        assert planned == {cursor.sku}


async def test_dialog_names_the_filter_and_fields_follow_the_view(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("4", "slash", "B", "enter", "space", "s")
        shown = screen_text(app)
        assert "From the view “Quantity out of sync”, filtered by “B”" in shown
        assert "(x) Quantity" in shown and "( ) Both" in shown
        await pilot.press("escape", "3", "s")
        assert "(x) Price" in screen_text(app)


async def test_selected_view_shows_exactly_the_selected_rows(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("space", "down", "space", "2", "space")
        chosen = app.grid.selected_positions()
        assert len(chosen) == 3
        assert "8 Selected 3" in screen_text(app) or "8 Sel 3" in screen_text(app)
        await pilot.press("8")
        source = app.grid.source
        assert source is not None and len(source) == 3
        assert [r.pos for r in source.fetch(0, 10)] == chosen
        assert "3 selected (0 not in this view)" in screen_text(app)


async def test_the_mass_change_guards_hold_a_console_sync_until_the_count_is_typed(
    data_dir: Path,
) -> None:
    from tests.writekit import zero_backoffice
    from tui_sync.config import SANDBOX_PAIR
    from tui_sync.refresh import refresh

    await asyncio.to_thread(refresh, data_dir, SANDBOX_PAIR)
    zero_backoffice(data_dir, 80)  # a broken feed: 80 stocked items read as zero
    before = remote(data_dir)
    app = make_app(data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("4", "a", "s")  # the Quantity view, all of it
        assert isinstance(app.screen, SyncDialog)
        await pilot.press("p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown = screen_text(app)
        assert "Guard:" in shown and "zero" in shown
        await pilot.press("a")
        prompt = app.screen
        assert isinstance(prompt, ConfirmApply) and prompt.typed
        await pilot.press("y")  # not enough: the count must be typed
        assert isinstance(app.screen, ConfirmApply)
        await pilot.press("escape", "escape", "escape")
        assert runs(app) == 0
    assert remote(data_dir) == before  # nothing written


async def test_the_footer_offers_apply_once_a_slow_plan_arrives(data_dir: Path) -> None:
    """The plan is made in a thread: when it arrives after the screen has settled, the footer
    must still learn that `a Apply…` now works (CI once caught it missing)."""
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await select_out_of_sync(app, pilot)
        await pilot.press("s")
        dialog = app.screen
        assert isinstance(dialog, SyncDialog)
        release = threading.Event()
        load = dialog.load

        def slow_load(positions: Sequence[int]) -> Iterable[Row]:
            release.wait(10)
            return load(positions)

        dialog.load = slow_load
        await pilot.press("p")
        for _ in range(3):
            await pilot.pause()
        assert "Apply…" not in screen_text(app).splitlines()[-1]  # nothing to apply yet
        release.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert dialog.plan is not None and not dialog.plan.is_empty
        assert "a Apply…" in screen_text(app).splitlines()[-1]
