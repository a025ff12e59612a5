"""Triage keys through Pilot: sort (`o`, `O`), go to a SKU (`g`), the breakdown (`F`).

Expected orders are computed here in Python from the rows' exact values, not by the SQL the
console uses, and compared with the SKUs on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Label

from tests.conftest import make_app
from tests.conftest import settle as settle_console
from tests.screen import screen_text
from tui_sync.model import Row, Status
from tui_sync.sandbox import outside
from tui_sync.tui.app import TuiSyncApp
from tui_sync.tui.screens.triage import BreakdownScreen, GotoScreen, OfferAllScreen
from tui_sync.views import SORTS, iter_rows

Key = Callable[[Row], tuple[object, ...]]


def _gap(row: Row) -> Decimal | None:
    s, b = row.store, row.backoffice
    if s is None or b is None or s.quantity is None or b.quantity is None:
        return None
    return abs(Decimal(s.quantity) - Decimal(b.quantity))


def _price_gap(row: Row) -> Decimal | None:
    s, b = row.store, row.backoffice
    if s is None or b is None or s.price is None or b.price is None:
        return None
    if s.price == b.price:
        return Decimal(0)
    if b.price == 0:
        return Decimal("1e300")
    return abs(s.price - b.price) * 100 / abs(b.price)


def _risk(row: Row) -> Decimal | None:
    gap = _gap(row)
    s, b = row.store, row.backoffice
    assert gap is None or (s is not None and b is not None)
    if gap is None or s is None or b is None:
        return None
    unit = next((v for v in (b.cost, s.cost, b.price, s.price) if v is not None), None)
    return None if unit is None else gap * unit


def _biggest_first(value: Callable[[Row], Decimal | None]) -> Key:
    def key(row: Row) -> tuple[object, ...]:
        found = value(row)
        return (1, row.pos) if found is None else (0, -found, row.pos)

    return key


KEYS: dict[str, Key] = {
    "sku": lambda row: (row.pos,),
    # SQLite's NOCASE folds ASCII letters only and compares the UTF-8 bytes
    "name": lambda row: (row.name.encode().lower(), row.pos),
    "q_gap": _biggest_first(_gap),
    "p_gap": _biggest_first(_price_gap),
    "risk": _biggest_first(_risk),
    "status": lambda row: (list(Status).index(row.status), row.pos),
}


async def settle(app: TuiSyncApp, pilot: Pilot[None]) -> None:
    await settle_console(pilot)
    await ordered(app, pilot)


async def ordered(app: TuiSyncApp, pilot: Pilot[None]) -> None:
    """Wait until the order asked for is on screen (a thread worker computes it)."""
    for _ in range(400):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not app.ordering:
            return
    raise AssertionError("the order never arrived")


async def choose_sort(app: TuiSyncApp, pilot: Pilot[None], key: str) -> None:
    await pilot.press("o")
    steps = [s.key for s in SORTS].index(key) - SORTS.index(app.sort)
    await pilot.press(*(["down"] * steps if steps > 0 else ["up"] * -steps), "enter")
    await ordered(app, pilot)


def on_screen(app: TuiSyncApp) -> list[str]:
    """The SKUs of the grid's rows on screen, top to bottom (as painted: the header skipped)."""
    grid = app.grid
    lines = [grid.render_line(y).text for y in range(1, grid.size.height)]
    marks = set("▌✓")  # the cursor and selection marks, before the SKU
    return [next(t for t in line.split() if not set(t) <= marks) for line in lines if line.strip()]


def expected_rows(
    app: TuiSyncApp, key: str, where: Callable[[Row], bool] = lambda r: True
) -> list[Row]:
    return sorted((r for r in iter_rows(app.cache, "sandbox") if where(r)), key=KEYS[key])


def expected(app: TuiSyncApp, key: str, where: Callable[[Row], bool] = lambda r: True) -> list[str]:
    return [r.sku for r in expected_rows(app, key, where)]


def order_label(app: TuiSyncApp) -> str:
    label = app.query_one("#order", Label)
    return str(label.render()) if label.display else ""


def rename_one(data_dir: Path, name: str) -> None:
    """A store item renamed behind our back, as in the vendor's UI: a product without options,
    so that exactly one row takes the name."""
    simple = [item_id for item_id in outside.skus(data_dir, "store") if ":" not in item_id]
    outside.set_text(data_dir, "store", simple[50], "name", name)


async def test_each_sort_puts_the_rows_in_its_order_on_screen(data_dir: Path) -> None:
    rename_one(data_dir, "aardvark, in lower case")  # before the capitals: case folded
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(app, pilot)
        for sort in [*SORTS[1:], SORTS[0]]:
            await choose_sort(app, pilot, sort.key)
            shown = on_screen(app)
            assert len(shown) > 10
            assert shown == expected(app, sort.key)[: len(shown)], sort.key
            if sort.key == "name":
                # On the first screen, ahead of every name that starts with a letter; only
                # names that start with none (the catalog's hostile ones: an ESC) come first.
                names = [r.name for r in expected_rows(app, "name")]
                at = names.index("aardvark, in lower case")
                assert at < len(shown) and not any(n[:1].isalpha() for n in names[:at])
            assert app.grid.current_row is not None
            assert app.grid.current_row.sku == shown[0]  # a new sort starts at its top
            if sort.key == "sku":
                assert order_label(app) == ""
            else:
                assert f"sort: {sort.label}" in order_label(app)


async def test_shift_o_reverses_the_sort(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(app, pilot)
        await choose_sort(app, pilot, "risk")
        await pilot.press("O")
        await ordered(app, pilot)
        shown = on_screen(app)
        backwards = expected(app, "risk")[::-1]
        assert shown == backwards[: len(shown)]
        assert "value at risk, reversed" in order_label(app)
        await pilot.press("O")
        await ordered(app, pilot)
        assert on_screen(app) == expected(app, "risk")[: len(shown)]
        # SKU order reversed too: the last SKUs first.
        await choose_sort(app, pilot, "sku")
        await pilot.press("O")
        await ordered(app, pilot)
        assert on_screen(app) == expected(app, "sku")[::-1][: len(shown)]


async def test_the_sort_survives_a_view_switch_and_a_refresh_and_the_cursor_its_row(
    data_dir: Path,
) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(app, pilot)
        await choose_sort(app, pilot, "risk")
        await pilot.press("2")  # Out of sync
        await ordered(app, pilot)
        out = expected(app, "risk", lambda r: r.status is Status.OUT_OF_SYNC)
        shown = on_screen(app)
        assert shown == out[: len(shown)]
        assert "sort: value at risk" in order_label(app)
        # The cursor on the second biggest risk; then its gap closes behind our back.
        await pilot.press("down")
        row = app.grid.current_row
        assert row is not None and row.store is not None and row.backoffice is not None
        assert row.sku == out[1]
        outside.set_value(data_dir, "store", row.store.id, "quantity", row.backoffice.quantity)
        await pilot.press("r")
        await settle(app, pilot)
        now = expected(app, "risk", lambda r: r.status is Status.OUT_OF_SYNC)
        assert row.sku not in now[:2]  # it left the top (or the view)
        shown = on_screen(app)
        assert shown == now[: len(shown)]
        assert "sort: value at risk" in order_label(app)
        await pilot.press("1")
        await ordered(app, pilot)
        assert on_screen(app) == expected(app, "risk")[: len(shown)]
        # In All, the cursor follows its row across a refresh that moves it.
        await pilot.press("down")
        moved = app.grid.current_row
        assert moved is not None and moved.store is not None and moved.backoffice is not None
        assert moved.sku == expected(app, "risk")[1]
        outside.set_value(data_dir, "store", moved.store.id, "quantity", moved.backoffice.quantity)
        await pilot.press("r")
        await settle(app, pilot)
        cursor = app.grid.current_row
        assert cursor is not None and cursor.sku == moved.sku
        assert app.grid.cursor_row == expected(app, "risk").index(moved.sku) > 1


def _holds_in_order(text: str, letters: str) -> bool:
    rest = iter(text)
    return all(c in rest for c in letters)


async def go_to(app: TuiSyncApp, pilot: Pilot[None], text: str) -> None:
    await pilot.press("g")
    assert isinstance(app.screen, GotoScreen)
    app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await ordered(app, pilot)


async def test_g_goes_to_a_sku_in_the_view_by_its_start_or_letters(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(app, pilot)
        await choose_sort(app, pilot, "risk")
        await pilot.press("2")
        await ordered(app, pilot)
        out = expected(app, "risk", lambda r: r.status is Status.OUT_OF_SYNC)
        target = out[len(out) // 2]
        await go_to(app, pilot, target.lower())
        row = app.grid.current_row
        assert row is not None and row.sku == target
        assert app.grid.cursor_row == out.index(target)
        assert app.view.key == "out_of_sync"  # the view kept
        # Its start only: the first SKU (in SKU order) that begins so.
        every = expected(app, "sku")
        for sku in out:
            start = sku[:-1]
            first = next(s for s in every if s.upper().startswith(start.upper()))
            if first in out and start.upper() not in (s.upper() for s in every):
                break
        else:
            raise AssertionError("no SKU of the view to find by its start")
        await go_to(app, pilot, start)
        row = app.grid.current_row
        assert row is not None and row.sku == first
        # Its letters in order, with gaps (fuzzy): the shortest SKU that holds them.
        letters = target.replace("-", "")
        assert letters.upper() not in (s.upper() for s in every)
        fuzzy = min(
            (s for s in every if _holds_in_order(s.upper(), letters.upper())),
            key=lambda s: (len(s), every.index(s)),
        )
        assert fuzzy in out
        await go_to(app, pilot, letters)
        row = app.grid.current_row
        assert row is not None and row.sku == fuzzy
        await go_to(app, pilot, "zzz-no-such-sku")
        assert app.grid.current_row == row
        assert "No SKU like" in screen_text(app)


async def test_g_offers_all_when_the_sku_is_not_in_the_view(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(app, pilot)
        await choose_sort(app, pilot, "risk")
        in_sync = expected(app, "sku", lambda r: r.status is Status.IN_SYNC)
        await pilot.press("2")
        await ordered(app, pilot)
        target = in_sync[len(in_sync) // 2]
        await go_to(app, pilot, target)
        assert isinstance(app.screen, OfferAllScreen)
        assert f"{target} is not in the view “Out of sync”" in screen_text(app)
        await pilot.press("escape")  # stay
        assert app.view.key == "out_of_sync"
        await go_to(app, pilot, target)
        await pilot.press("enter")
        await ordered(app, pilot)
        assert app.view.key == "all"
        row = app.grid.current_row
        assert row is not None and row.sku == target
        assert app.grid.cursor_row == expected(app, "risk").index(target)  # the sort kept


async def open_breakdown(app: TuiSyncApp, pilot: Pilot[None]) -> BreakdownScreen:
    await pilot.press("F")
    screen = app.screen
    assert isinstance(screen, BreakdownScreen)
    for _ in range(400):
        await pilot.pause()
        if screen.lines:
            return screen
    raise AssertionError("the breakdown was never counted")


def line_at(screen: BreakdownScreen, group: str, value: str) -> int:
    return next(
        i for i, line in enumerate(screen.lines) if (line.group, line.value) == (group, value)
    )


async def test_breakdown_counts_and_enter_shows_only_that_line(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("2")
        rows = [r for r in iter_rows(app.cache, "sandbox") if r.status is Status.OUT_OF_SYNC]
        priced = [r.sku for r in rows if r.cells["P"] == "N"]
        # The back office's brand first, else the store's: QuickBooks has no brands, so here
        # they are BigCommerce's (a row only in the back office has none).
        brands: dict[str | None, int] = {}
        for r in rows:
            brand = (r.backoffice.brand if r.backoffice else None) or (
                r.store.brand if r.store else None
            )
            brands[brand] = brands.get(brand, 0) + 1
        assert len([b for b in brands if b is not None]) > 1
        screen = await open_breakdown(app, pilot)
        counts = {(line.group, line.value): line.count for line in screen.lines}
        assert counts[("code", "P")] == len(priced) > 0
        assert {v: n for (g, v), n in counts.items() if g == "brand"} == {
            k or "(no brand)": n for k, n in brands.items()
        }
        table = screen.query_one(DataTable)
        table.move_cursor(row=line_at(screen, "code", "P"))
        await pilot.press("enter")
        await ordered(app, pilot)
        assert len(app.grid.source or []) == len(priced)
        shown = on_screen(app)
        assert shown == priced[: len(shown)]
        assert "only code P" in order_label(app)
        await pilot.press("escape")  # back to the whole view
        await ordered(app, pilot)
        assert len(app.grid.source or []) == len(rows)
        assert order_label(app) == ""


async def test_breakdown_space_selects_the_rows_of_a_line(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(app, pilot)
        rows = list(iter_rows(app.cache, "sandbox"))
        gaps = {r.pos for r in rows if (g := _gap(r)) is not None and 10 <= g < 100}
        assert gaps
        screen = await open_breakdown(app, pilot)
        table = screen.query_one(DataTable)
        table.move_cursor(row=line_at(screen, "quantity gap", "10 to 99"))
        await pilot.press("space")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, BreakdownScreen)  # it stays open for more
        assert set(app.grid.selected_positions()) == gaps
        await pilot.press("escape")
        assert f"{len(gaps):,} selected" in screen_text(app)


def test_a_cache_of_the_previous_schema_gets_the_sort_keys_of_its_rows(tmp_path: Path) -> None:
    import sqlite3

    import sqlite_utils

    from tui_sync import cache as cache_module
    from tui_sync.cache import Cache
    from tui_sync.views import SORT_BY_KEY, view_order

    conn = sqlite3.connect(tmp_path / cache_module.CACHE_FILE, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for migrate in cache_module.MIGRATIONS[:4]:  # as the release before this one left it
        migrate(db)
    conn.execute("PRAGMA user_version = 4")
    items = "pair, side, id, sku_key, name, name_key, name_bare, brand, quantity_u, price_u, cost_u"
    for rid, side, qty, price, cost, brand in (
        (1, "store", 5, 10, None, "Acme"),  # row 0: 3 apart at cost 4: 12 at risk
        (2, "backoffice", 8, 10, 4, None),
        (3, "store", 1, 30, None, None),  # row 1: 2 apart, no cost: at the back office's price, 40
        (4, "backoffice", 3, 20, None, "Zed"),
    ):
        micros = [None if v is None else v * 1_000_000 for v in (qty, price, cost)]
        conn.execute(
            f"INSERT INTO items (rowid, {items}) "
            "VALUES (?, 'p', ?, ?, 'K', 'n', 'n', 'n', ?, ?, ?, ?)",
            (rid, side, str(rid), brand, *micros),
        )
    for pos, store, backoffice in ((0, 1, 2), (1, 3, 4)):
        conn.execute(
            "INSERT INTO rows (pair, pos, key, sku, name, status, store_rid, backoffice_rid, "
            "sides, duplicate, pending) VALUES ('p', ?, ?, ?, 'n', 'out_of_sync', ?, ?, 3, 0, 0)",
            (pos, f"K{pos}", f"K{pos}", store, backoffice),
        )
    conn.close()
    with Cache.open(tmp_path) as cache:
        got = cache.conn.execute("SELECT q_gap, p_gap, risk, brand FROM rows ORDER BY pos")
        assert got.fetchall() == [(3_000_000, 0.0, 12.0, "Acme"), (2_000_000, 50.0, 40.0, "Zed")]
        assert list(view_order(cache, "p", sort=SORT_BY_KEY["risk"])) == [1, 0]
        assert list(view_order(cache, "p", sort=SORT_BY_KEY["q_gap"])) == [0, 1]


async def test_under_a_sort_the_selected_view_and_the_sync_dialog_take_the_selection(
    data_dir: Path,
) -> None:
    from tui_sync.tui.screens.sync_dialog import SyncDialog

    app = make_app(data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(app, pilot)
        await choose_sort(app, pilot, "risk")
        await pilot.press("space", "space", "space")  # the three biggest risks
        top = expected(app, "risk")[:3]
        assert "3 selected (0 not in this view)" in screen_text(app)
        await pilot.press("8")
        await ordered(app, pilot)
        assert on_screen(app) == top  # exactly them, in the sort's order
        await pilot.press("O")
        await ordered(app, pilot)
        assert on_screen(app) == top[::-1]
        await pilot.press("1", "s")
        await ordered(app, pilot)
        assert "(x) In this view (3)" in screen_text(app)
        await pilot.press("p")
        dialog = app.screen
        assert isinstance(dialog, SyncDialog)
        for _ in range(400):
            if dialog.plan is not None:
                break
            await pilot.pause(0.01)
        assert dialog.plan is not None
        planned = {c.sku for c in dialog.plan.changes} | {r.sku for r in dialog.plan.refusals}
        assert planned == set(top)


def test_rows_at_positions_out_of_order_are_those_rows_in_that_order(data_dir: Path) -> None:
    from tui_sync.cache import Cache
    from tui_sync.config import SANDBOX_PAIR
    from tui_sync.refresh import refresh
    from tui_sync.views import rows_at

    refresh(data_dir, SANDBOX_PAIR)
    with Cache.open(data_dir) as cache:
        # as far apart as a run of three, yet not one: a page of a sorted view
        assert [r.pos for r in rows_at(cache, "sandbox", [5, 9, 7])] == [5, 9, 7]
        assert [r.pos for r in rows_at(cache, "sandbox", [5, 6, 7])] == [5, 6, 7]
