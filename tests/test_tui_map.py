"""`m` and `M` in the console: the picker ranks the other side's unmatched items and maps the
chosen one, the rows re-pair at once without a refresh, `M` unmaps after a confirmation, the
mapping shows in the row detail and survives a refresh, and a row mapped here syncs through
the mapped pair."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.conftest import FIXED_TIME, make_app, settle
from tests.screen import raw_controls, screen_text
from tui_sync.cache import Cache
from tui_sync.config import SANDBOX_PAIR
from tui_sync.model import Item, Side
from tui_sync.reconcile import reconcile
from tui_sync.refresh import refresh
from tui_sync.sandbox import outside
from tui_sync.sync import policy_for
from tui_sync.tui.app import TuiSyncApp
from tui_sync.tui.screens.confirm_apply import ConfirmApply
from tui_sync.tui.screens.map_picker import ConfirmUnmap, MapPicker
from tui_sync.tui.screens.row_detail import RowDetailScreen


@pytest.fixture(autouse=True)
def no_arm_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ConfirmApply, "ARM_SECONDS", 0.0)


async def idle(app: TuiSyncApp, pilot: Pilot[None]) -> None:
    """Until every worker is done and what it posted has been handled."""
    for _ in range(200):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.busy is None and not app.workers:
            return
        await pilot.pause(0.02)
    raise AssertionError("workers did not finish")


def row_of(app: TuiSyncApp, key: str) -> tuple[object, ...]:
    found = app.cache.conn.execute(
        "SELECT r.pos, r.sku, r.status, s.id, b.id FROM rows AS r "
        "LEFT JOIN items AS s ON s.rowid = r.store_rid "
        "LEFT JOIN items AS b ON b.rowid = r.backoffice_rid "
        "WHERE r.pair = 'sandbox' AND r.key = ?",
        (key,),
    ).fetchone()
    assert found is not None, key
    return tuple(found)


async def open_picker_on(app: TuiSyncApp, pilot: Pilot[None], sku: str) -> MapPicker:
    """The cursor on `sku`'s row of the current view, then `m`, until the ranking arrived."""
    source = app.grid.source
    assert source is not None
    index = next(i for i, r in enumerate(source.fetch(0, len(source))) if r.sku == sku)
    app.grid.cursor_row = index
    await pilot.press("m")
    picker = app.screen
    assert isinstance(picker, MapPicker)
    await idle(app, pilot)
    assert picker.candidates is not None
    return picker


async def choose(pilot: Pilot[None], picker: MapPicker, sku: str) -> None:
    assert picker.candidates is not None
    index = [c.sku for c, _ in picker.candidates].index(sku)
    await pilot.press(*["down"] * index, "enter")


async def test_the_picker_maps_and_the_rows_re_pair_without_a_refresh(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        refreshed = app.cache.refresh_info("sandbox")
        unmatched, everything = app.counts["unmatched"], app.counts["all"]
        await pilot.press("7")
        picker = await open_picker_on(app, pilot, "HOOD-0054")
        shown = screen_text(app)
        assert "Map back office SKU HOOD-0054" in shown
        stores = [c.sku for c, _ in picker.candidates or []]
        assert sorted(stores) == ["PILW-0172", "RAIN-0070", "TAPE-0005"]  # the store-only ones
        scores = [like.score for _, like in picker.candidates or []]
        assert scores == sorted(scores, reverse=True)
        await choose(pilot, picker, "RAIN-0070")
        await idle(app, pilot)
        assert not isinstance(app.screen, MapPicker)
        pos, sku, status, store_id, back_id = row_of(app, "HOOD-0054")
        assert sku == "RAIN-0070" and store_id is not None and back_id is not None
        assert status not in ("store_only", "backoffice_only")
        assert app.counts["unmatched"] == unmatched - 2 and app.counts["all"] == everything - 1
        source = app.grid.source
        assert source is not None and len(source) == unmatched - 2  # the view, re-read
        assert "RAIN-0070" not in {r.sku for r in source.fetch(0, len(source))}
        assert f"7 Unm {unmatched - 2}" in screen_text(app)
        # the cursor stayed at its place in the view: on the next unmatched row
        current = app.grid.current_row
        assert current is not None and current.sku == "HOOD-0167"
        assert app.cache.refresh_info("sandbox") == refreshed  # no refresh ran
        # in All, the grid has one row less, and the mapped row reads both sides
        await pilot.press("1")
        all_rows = app.grid.source
        assert all_rows is not None and len(all_rows) == everything - 1
        (mapped,) = all_rows.fetch(int(str(pos)), int(str(pos)) + 1)
        assert mapped.sku == "RAIN-0070" and mapped.backoffice is not None
        assert mapped.backoffice.id == back_id


async def test_m_from_all_keeps_the_cursor_on_the_mapped_row_and_M_unmaps(
    data_dir: Path,
) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        before = app.cache.conn.execute(
            "SELECT * FROM rows WHERE pair = 'sandbox' ORDER BY pos"
        ).fetchall()
        picker = await open_picker_on(app, pilot, "PILW-0172")
        assert "Map store SKU PILW-0172" in screen_text(app)
        await choose(pilot, picker, "HOOD-0054")
        await idle(app, pilot)
        current = app.grid.current_row
        assert current is not None and current.key == "HOOD-0054"
        assert current.sku == "PILW-0172" and current.backoffice is not None
        await pilot.press("enter")
        assert isinstance(app.screen, RowDetailScreen)
        assert "Mapped: store SKU PILW-0172 ↔ back-office SKU HOOD-0054" in screen_text(app)
        await pilot.press("escape")

        await pilot.press("M")
        assert isinstance(app.screen, ConfirmUnmap)
        assert "Remove the mapping of store SKU PILW-0172" in screen_text(app)
        await pilot.press("n")  # kept
        await idle(app, pilot)
        assert row_of(app, "HOOD-0054")[1] == "PILW-0172"
        await pilot.press("M", "y")
        await idle(app, pilot)
        after = app.cache.conn.execute(
            "SELECT * FROM rows WHERE pair = 'sandbox' ORDER BY pos"
        ).fetchall()
        assert after == before  # exactly as it was
        current = app.grid.current_row
        assert current is not None and current.sku == "PILW-0172"
        assert current.backoffice is None
        await pilot.press("M")  # not a mapped row now: nothing to confirm
        assert not isinstance(app.screen, ConfirmUnmap)


async def test_m_on_a_matched_row_says_so_and_opens_nothing(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2", "m")  # an out-of-sync row: matched
        assert not isinstance(app.screen, MapPicker)
        assert app.counts["unmatched"] == 6


def remote_item(data_dir: Path, side: Side, item_id: str) -> tuple[object, ...]:
    """(quantity, price) as the vendor's sandbox holds them now, compared as numbers."""
    quantity, price, _ = outside.values(data_dir)[(side, item_id)]
    return (
        None if quantity is None else Decimal(quantity),
        None if price is None else Decimal(price),
    )


async def test_a_mapping_created_in_the_console_survives_a_refresh_and_syncs(
    data_dir: Path,
) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        picker = await open_picker_on(app, pilot, "TAPE-0005")
        await choose(pilot, picker, "SKT-0006")
        await idle(app, pilot)
        _, _, _, store_id, back_id = row_of(app, "SKT-0006")
        store_before = remote_item(data_dir, "store", str(store_id))
        back_values = remote_item(data_dir, "backoffice", str(back_id))
        assert store_before[0] != back_values[0]  # their quantities differ: out of sync

        await pilot.press("r")
        await idle(app, pilot)
        assert app.last_refresh.startswith("refreshed")
        assert row_of(app, "SKT-0006")[1:4] == ("TAPE-0005", "out_of_sync", store_id)

        current = app.grid.current_row
        assert current is not None and current.key == "SKT-0006"
        await pilot.press("s", "p")  # the cursor row, to the store (not the master)
        await idle(app, pilot)
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmApply)
        assert {c.sku for c in app.screen.plan.changes} == {"TAPE-0005"}
        await pilot.press("y")
        await idle(app, pilot)
    # written to the store item of TAPE-0005, from the back-office item of SKT-0006
    assert remote_item(data_dir, "store", str(store_id))[0] == back_values[0]
    assert remote_item(data_dir, "backoffice", str(back_id)) == back_values


async def test_hostile_names_in_the_picker_are_shown_inert(data_dir: Path) -> None:
    await asyncio.to_thread(refresh, data_dir, SANDBOX_PAIR)
    hostile = Item(
        id="evil",
        sku="HOOD-0O54\x1b[2J",
        name="Organic \x1b]0;pwned\x07Hoodie \u202eeidooh",
        brand=None,
        quantity=1,
        price=Decimal("64.95"),
        cost=None,
    )
    with Cache.open(data_dir) as cache, cache.transaction():
        cache.stage("sandbox", "store", [hostile])
        cache.swap_in("sandbox", "store", full=False)
        reconcile(cache, "sandbox", policy_for(SANDBOX_PAIR))
    app = TuiSyncApp(data_dir, SANDBOX_PAIR, clock=lambda: FIXED_TIME, refresh_on_start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await idle(app, pilot)
        await pilot.press("7")
        picker = await open_picker_on(app, pilot, "HOOD-0054")
        assert picker.candidates is not None
        assert picker.candidates[0][0].sku == hostile.sku  # the look-alike ranks first
        shown = screen_text(app)
        assert raw_controls(shown) == []
        assert "HOOD-0O54␛[2J" in shown and "<U+202E>" in shown
