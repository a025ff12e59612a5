"""The console driven by keys through Pilot, at 80x24, asserting what the user sees."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, Label, RadioButton, Static
from textual.widgets._toast import Toast

from tests.conftest import make_app
from tests.conftest import settle as settle_console
from tests.screen import screen_lines, screen_text
from tui_sync.config import SANDBOX_PAIR
from tui_sync.model import Status
from tui_sync.sandbox.state import ensure_sandbox
from tui_sync.tui.app import TuiSyncApp
from tui_sync.tui.grid import DiscrepancyGrid
from tui_sync.tui.screens.confirm_apply import ConfirmApply
from tui_sync.tui.screens.help import HelpScreen, help_text
from tui_sync.tui.screens.row_detail import RowDetailScreen
from tui_sync.tui.screens.run_log import RunLogScreen
from tui_sync.tui.screens.sync_dialog import SyncDialog
from tui_sync.views import iter_rows, view_counts


@pytest.fixture(autouse=True)
def no_arm_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests press keys faster than a user: the prompt's key delay has its own test."""
    monkeypatch.setattr(ConfirmApply, "ARM_SECONDS", 0.0)


async def settle(app: TuiSyncApp, pilot: Pilot[None]) -> None:
    await settle_console(pilot)
    await app.workers.wait_for_complete()
    await pilot.pause()


def text(app: TuiSyncApp, selector: str) -> str:
    widget = app.query_one(selector)
    assert isinstance(widget, Static | Label)
    return str(widget.render())


def grid_lines(grid: DiscrepancyGrid) -> list[str]:
    return [grid.render_line(y).text for y in range(grid.size.height)]


async def test_opens_on_the_grid_with_view_counts(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        lines = grid_lines(app.grid)
        assert "SKU" in lines[0]
        assert len(app.grid.source) > 400  # type: ignore[arg-type]
        counts = view_counts(app.cache, "sandbox")
        bar = text(app, "#views")
        assert f"{counts['all']:,}" in bar and f"{counts['out_of_sync']:,}" in bar
        assert "refreshed 12:00:00" in text(app, "#title")
        assert "Refreshed:" in text(app, "#status-label")


async def test_details_toggle_shows_and_hides_code_columns(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert "QP" not in grid_lines(app.grid)[0]
        await pilot.press("d")
        assert app.query_one("#details", Checkbox).value is True
        assert app.grid.show_details
        app.grid.scroll_to(x=app.grid.virtual_size.width, animate=False)
        await pilot.pause()
        assert "QP" in grid_lines(app.grid)[0]
        await pilot.press("d")
        assert not app.grid.show_details


async def test_views_switch_by_key(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")  # Quantity out of sync
        rows = app.grid.source.fetch(0, len(app.grid.source))  # type: ignore[union-attr, arg-type]
        assert rows
        assert all("N" in (r.cells["Q"], r.cells["QP"], r.cells["QN"]) for r in rows)
        await pilot.press("7")  # Unmatched
        rows = app.grid.source.fetch(0, 10_000)  # type: ignore[union-attr]
        assert rows and {r.status for r in rows} <= {Status.STORE_ONLY, Status.BACKOFFICE_ONLY}


async def test_filter_by_sku_or_name(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        wanted = app.grid.source.fetch(5, 6)[0].sku  # type: ignore[union-attr]
        await pilot.press("slash")
        await pilot.press(*wanted)
        await pilot.press("enter")
        rows = app.grid.source.fetch(0, 100)  # type: ignore[union-attr]
        assert rows and all(wanted.lower() in r.sku.lower() for r in rows)
        assert "(filtered)" in text(app, "#views")
        await pilot.press("slash", "escape")  # Esc in the filter clears it
        assert "(filtered)" not in text(app, "#views")
        assert len(app.grid.source) == view_counts(app.cache, "sandbox")["all"]  # type: ignore[arg-type]
        assert app.grid.has_focus


async def test_selection_keys_and_count(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("space", "space")
        assert text(app, "#selected") == "2 selected (0 not in this view)"
        await pilot.press("shift+down", "shift+down")
        assert app.grid.selected_count == 5  # rows 2, 3 and 4: from the cursor to where it lands
        await pilot.press("2", "a")  # the whole Out of sync view
        out = view_counts(app.cache, "sandbox")["out_of_sync"]
        assert app.grid.selected_count >= out
        await pilot.press("n")
        assert app.grid.selected_count == 0
        assert text(app, "#selected") == "0 selected (0 not in this view)"


async def test_sync_quantity_to_the_store_turns_q_cells_to_s(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("2")  # Out of sync
        rows = app.grid.source.fetch(0, 200)  # type: ignore[union-attr]
        chosen = [r for r in rows if r.cells["Q"] == "N"][:3]
        assert len(chosen) == 3
        app.grid.set_selection([r.pos for r in chosen])
        await pilot.press("s")
        dialog = app.screen
        assert isinstance(dialog, SyncDialog)
        # Fields: from the policy's "Both" up to "Quantity".
        await pilot.press("tab", "tab", "up", "up", "enter")
        await pilot.press("p")
        plan_text = screen_text(app)
        assert "3 change(s) to the store" in plan_text
        for row in chosen:
            assert row.sku in plan_text
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmApply)
        assert "Write 3 change(s) to the store (not the master)" in screen_text(app)
        await pilot.press("y")
        await settle(app, pilot)
        assert not isinstance(app.screen, SyncDialog)
        for row in chosen:
            (fresh,) = iter_rows(app.cache, "sandbox", skus=[row.sku])
            assert fresh.cells["Q"] == "S"
            assert fresh.store is not None and fresh.backoffice is not None
            assert fresh.store.quantity == fresh.backoffice.quantity
        assert "written" in text(app, "#status-label")
        assert app.grid.selected_count == 0


async def test_master_target_is_marked_and_warned(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("s")
        dialog = app.screen
        assert isinstance(dialog, SyncDialog)
        assert "Back office (master)" in str(
            dialog.query_one("#target").query(RadioButton)[1].label
        )
        assert "⚠" not in str(dialog.query_one("#warning", Static).render())
        await pilot.press("tab", "down", "enter")  # Back office (master)
        assert "master" in str(dialog.query_one("#warning", Static).render())
        await pilot.press("escape")
        assert not isinstance(app.screen, SyncDialog)


async def test_row_detail_log_and_help_screens(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("2", "enter")
        assert isinstance(app.screen, RowDetailScreen)
        shown = screen_text(app)
        assert "Why" in shown and "store" in shown
        await pilot.press("escape", "l")
        assert isinstance(app.screen, RunLogScreen)
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "Keys" in screen_text(app) and "esc Close" in screen_text(app)
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0]


async def test_refresh_key_runs_in_a_background_worker(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.query_one("#status-label", Label).update("")
        await pilot.press("r", "down")  # the grid takes keys while the refresh runs
        await settle(app, pilot)
        assert app.busy is None
        assert app.grid.cursor_row == 1
        assert "Refreshed:" in text(app, "#status-label")
        assert not app.query_one("#progress").display


async def test_details_at_80_columns_show_every_code_column(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert "[ ] Display Discrepancy Details" in screen_text(app)  # state without colour
        await pilot.press("d")
        assert "[x] Display Discrepancy Details" in screen_text(app)
        header = grid_lines(app.grid)[0]
        assert header.split()[-9:] == ["N", "NS", "IV", "B", "Q", "QP", "QN", "P", "C"]
        assert app.grid.virtual_size.width <= app.grid.scrollable_content_region.width


async def test_view_bar_fits_80_columns_with_compact_counts(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        big = {"all": 1_234_567, "out_of_sync": 123_456, "price": 99_999, "quantity": 45_678}
        big |= {"in_orders": 12_345, "base": 234_567, "unmatched": 5_432}
        app.counts = big
        app._update_bars()
        await pilot.pause()
        bar = text(app, "#views")
        for shown in ("All 1.2M", "Out 123k", "Price 100k", "Unm 5.4k", "Sel 0"):
            assert shown in bar
        assert len(bar.rstrip()) <= 80


async def test_command_palette_lists_our_actions_when_it_opens(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)  # the palette gathers its discovery hits asynchronously
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "Sync the selected rows" in screen_text(app)


async def test_notifications_leave_the_status_line_visible(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(app, pilot)
        app.say("A notification\nof several\nlines")
        await pilot.pause()
        assert "A notification" in screen_text(app)
        (toast,) = app.screen.query(Toast)
        assert toast.region.bottom <= 22  # line 22 is the status line, 23 the footer
        assert "Refreshed:" in screen_lines(app)[22]
        assert screen_lines(app)[22].rstrip().endswith("rows")  # whole, not covered


async def test_help_names_every_key_the_master_and_how_to_close_statuses(
    data_dir: Path,
) -> None:
    shown = help_text(SANDBOX_PAIR).plain
    for key in ("← →", "ctrl+q", "St / BO", "Ord", "Unm", "8 Sel"):
        assert key in shown
    assert "the back office (sandbox-books) is the master" in shown
    for label in ("Duplicate SKU", "In Orders", "Out of sync", "Store only"):
        assert f"  {label}" in shown
    assert shown.count("close:") == 7


async def test_selection_follows_its_rows_across_a_refresh_that_renumbers(
    data_dir: Path,
) -> None:
    from tui_sync.sandbox import outside

    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("down", "down", "down", "space", "space", "space")
        rows = list(iter_rows(app.cache, "sandbox"))
        chosen = {rows[pos].key for pos in app.grid.selected_positions()}
        assert len(chosen) == 3
        # A row above them vanishes on both sides: every row below it moves up one place.
        first = rows[1]
        assert first.store is not None and first.backoffice is not None
        outside.delete_item(data_dir, "store", first.store.id)
        outside.delete_item(data_dir, "backoffice", first.backoffice.id)
        # BigCommerce reports no deletions: the periodic full refresh finds them. Make this one
        # that full refresh.
        with app.cache.conn:
            app.cache.conn.execute("UPDATE refreshes SET store_mark = NULL, backoffice_mark = NULL")
        await pilot.press("r")
        await settle(app, pilot)
        after = list(iter_rows(app.cache, "sandbox"))
        assert len(after) == len(rows) - 1
        assert {after[pos].key for pos in app.grid.selected_positions()} == chosen
        assert text(app, "#selected").startswith("3 selected")


async def test_esc_stops_a_sync_between_batches_with_nothing_unknown(data_dir: Path) -> None:
    from tui_sync import journal
    from tui_sync.sandbox import outside, pair

    # 150 store quantities one off: three batches of 50 for the store.
    ordered = {sku for _, sku, _ in outside.pending_orders(data_dir)}
    held = outside.values(data_dir)
    ids = [
        item_id
        for item_id, sku in outside.skus(data_dir, "store").items()
        if sku not in ordered and int(held[("store", item_id)][0] or 0) >= 0
    ][:150]
    outside.set_values(data_dir, "store", "quantity", dict.fromkeys(ids, 1000))
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("4", "a", "s")  # the Quantity view, all of it: quantity is the field
        assert isinstance(app.screen, SyncDialog)
        await pilot.press("p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        # Slow enough that the sync is still running when Esc comes, even on a loaded machine:
        # each call waits 800 ms, so three batches take seconds.
        pair.set_latency(data_dir, 800)
        await pilot.press("a", "y")
        for _ in range(400):  # until the first batch has been written and said so
            if "Syncing" in text(app, "#status-label") and app.running.process is not None:
                break
            await pilot.pause(0.02)
        await pilot.press("escape")
        assert "Stopping the sync" in text(app, "#status-label")
        await settle(app, pilot)
        (run,) = journal.runs(app.cache, pair="sandbox")
        stopped = [c for c in run.changes if c.reason and "stopped" in c.reason]
        assert stopped, "Esc did not stop the run between batches"
        assert run.count("unknown") == 0
        assert run.count("done") >= 50  # the batch in flight was finished, not abandoned
        assert all(c.result == "refused" for c in stopped)
        assert "written" in text(app, "#status-label")


async def test_the_first_refresh_says_why_the_grid_is_empty(tmp_path: Path) -> None:
    """A fresh data dir: before the first refresh lands, the empty grid names it, not
    "No rows in this view"; once it lands, the rows are there."""
    data = tmp_path / "fresh"
    ensure_sandbox(data, size=60)
    app = make_app(data)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.busy == "Refresh"
        assert "for the first time" in screen_text(app)
        await settle_console(pilot)
        assert "for the first time" not in screen_text(app)
        assert app.grid.empty_text == "No rows in this view"
