"""`I` in the console: mark the cursor row's field as an intended difference, see it leave the
view and the counts at once (no refresh), read it in row detail, unmark it; and the quantity
buffer in row detail."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Button, Input, RadioSet

from tests.conftest import FIXED_TIME, settle
from tests.screen import screen_text
from tui_sync.config import SANDBOX_PAIR
from tui_sync.model import CODES, QuantityBuffer, Row
from tui_sync.tui.app import TuiSyncApp
from tui_sync.tui.screens.intended import IntendedDialog
from tui_sync.tui.screens.row_detail import RowDetailScreen
from tui_sync.views import rows_at


def grid_lines(app: TuiSyncApp) -> list[str]:
    return [app.grid.render_line(y).text for y in range(app.grid.size.height)]


async def done(app: TuiSyncApp, pilot: Pilot[None]) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


def put_cursor_on(app: TuiSyncApp, wanted: Row) -> None:
    positions = list(app.grid.source.positions())  # type: ignore[union-attr]
    app.grid.cursor_row = positions.index(wanted.pos)


def only_price_out(app: TuiSyncApp) -> Row:
    rows = app.grid.source.fetch(0, 400)  # type: ignore[union-attr]
    return next(
        r for r in rows if r.cells["P"] == "N" and all(r.cells[c] != "N" for c in ("Q", "QN", "C"))
    )


async def test_i_marks_the_price_and_the_row_leaves_the_price_view_at_once(
    data_dir: Path,
) -> None:
    app = TuiSyncApp(data_dir, SANDBOX_PAIR, clock=lambda: FIXED_TIME)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await done(app, pilot)
        await pilot.press("3")  # Price out of sync
        row = only_price_out(app)
        put_cursor_on(app, row)
        before = dict(app.counts)
        refreshed = app.last_refresh

        await pilot.press("I")
        dialog = app.screen
        assert isinstance(dialog, IntendedDialog)
        assert "Intended difference: " + row.sku in screen_text(app)
        pressed = dialog.query_one("#intended-field", RadioSet).pressed_button
        assert pressed is not None and pressed.name == "price"  # the field that differs
        assert not dialog.query("#unmark")  # nothing to unmark yet
        await pilot.press("tab")
        assert dialog.query_one("#intended-note", Input).has_focus
        await pilot.press(*"clearance", "enter")
        await done(app, pilot)

        assert not isinstance(app.screen, IntendedDialog)
        assert row.pos not in app.grid.source.positions()  # type: ignore[union-attr]
        assert app.counts["price"] == before["price"] - 1
        assert app.counts["out_of_sync"] == before["out_of_sync"] - 1
        bar = str(app.query_one("#views").render())
        assert f" Price {before['price'] - 1:,} " in bar, bar
        assert app.last_refresh == refreshed  # rescored in place, no refresh
        assert "price: intended difference" in screen_text(app)

        await pilot.press("1", "d")  # All, with the code columns
        put_cursor_on(app, row)
        await pilot.pause()
        line = next(ln for ln in grid_lines(app) if row.sku in ln)
        assert "Intended" in line
        codes = line.split("Intended", 1)[1].split()
        # The row as it was with its price now I: nothing else moved, and nothing else differs
        # (a "-" is a cell with nothing to compare, such as a brand QuickBooks does not hold).
        assert codes == ["I" if c == "P" else row.cells[c] for c in CODES], line
        assert "N" not in codes and codes.count("I") == 1, line

        await pilot.press("enter")
        assert isinstance(app.screen, RowDetailScreen)
        detail = screen_text(app)
        assert "Intended differences" in detail
        assert "price, marked 20" in detail and "clearance" in detail
        assert "P:I" in detail
        await pilot.press("escape")

        await pilot.press("I")
        second = app.screen
        assert isinstance(second, IntendedDialog)
        assert "Marked: price since" in screen_text(app)
        assert second.query_one("#intended-note", Input).value == "clearance"
        await pilot.click("#unmark")
        await done(app, pilot)
        (again,) = rows_at(app.cache, "sandbox", [row.pos])
        assert again.cells["P"] == "N" and again.intended == ()
        assert app.counts["price"] == before["price"]


async def test_escape_leaves_the_row_as_it_was(data_dir: Path) -> None:
    app = TuiSyncApp(data_dir, SANDBOX_PAIR, clock=lambda: FIXED_TIME)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await done(app, pilot)
        await pilot.press("3")
        row = only_price_out(app)
        put_cursor_on(app, row)
        await pilot.press("I")
        assert isinstance(app.screen, IntendedDialog)
        assert isinstance(app.screen.query_one("#mark"), Button)
        await pilot.press("escape")
        await done(app, pilot)
        assert not isinstance(app.screen, IntendedDialog)
        (same,) = rows_at(app.cache, "sandbox", [row.pos])
        assert same.cells["P"] == "N" and same.intended == ()


async def test_row_detail_shows_the_master_and_the_buffered_quantity(data_dir: Path) -> None:
    pair = replace(SANDBOX_PAIR, quantity_buffer=QuantityBuffer(units=3))
    app = TuiSyncApp(data_dir, pair, clock=lambda: FIXED_TIME)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await done(app, pilot)
        rows = app.grid.source.fetch(0, 400)  # type: ignore[union-attr]
        row = next(
            r
            for r in rows
            if r.store is not None
            and r.backoffice is not None
            and isinstance(r.backoffice.quantity, int)
            and r.backoffice.quantity > 3
        )
        assert row.backoffice is not None and isinstance(row.backoffice.quantity, int)
        put_cursor_on(app, row)
        await pilot.press("enter")
        assert isinstance(app.screen, RowDetailScreen)
        detail = screen_text(app)
        master = row.backoffice.quantity
        quantity_line = next(ln for ln in detail.splitlines() if "quantity " in ln)
        assert str(master) in quantity_line
        assert f"{master - 3} for the store (buffer 3)" in detail


async def test_a_hostile_note_is_shown_inert(data_dir: Path) -> None:
    import asyncio

    from tests.screen import raw_controls
    from tui_sync import intended
    from tui_sync.cache import Cache
    from tui_sync.refresh import refresh
    from tui_sync.views import iter_rows

    await asyncio.to_thread(refresh, data_dir, SANDBOX_PAIR)
    with Cache.open(data_dir) as cache:
        first = next(iter_rows(cache, "sandbox", statuses=["in_sync"]))
        row = intended.mark(cache, SANDBOX_PAIR, first.sku, None, "\x1b]0;pwned\x07 ok")
    app = TuiSyncApp(data_dir, SANDBOX_PAIR, clock=lambda: FIXED_TIME, refresh_on_start=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await done(app, pilot)
        put_cursor_on(app, row)
        await pilot.press("enter")
        assert isinstance(app.screen, RowDetailScreen)
        detail = screen_text(app)
        assert "whole SKU, marked" in detail and "␛]0;pwned␇ ok" in detail
        assert raw_controls(detail) == []
        await pilot.press("escape", "I")
        assert isinstance(app.screen, IntendedDialog)
        assert raw_controls(screen_text(app)) == []
        assert "␛]0;pwned␇ ok" in screen_text(app)
