"""Another process (a cron `sync`, `auto`) writes the cache while the console is open: the grid
reloads the rows on screen, the cursor stays, and a plan open in the sync dialog is stale until
it is shown again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.conftest import make_app, settle
from tests.screen import screen_text
from tui_sync.cache import Cache
from tui_sync.config import SANDBOX_PAIR
from tui_sync.connectors import capabilities
from tui_sync.sync import apply, plan
from tui_sync.tui.app import TuiSyncApp
from tui_sync.tui.screens.confirm_apply import ConfirmApply
from tui_sync.tui.screens.sync_dialog import SyncDialog
from tui_sync.views import iter_rows


@pytest.fixture(autouse=True)
def fast_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TuiSyncApp, "CACHE_POLL_S", 0.05)
    monkeypatch.setattr(ConfirmApply, "ARM_SECONDS", 0.0)


def cron_sync(data_dir: Path, skus: set[str]) -> None:
    """What `tui-sync sync --to store --fields quantity --sku ...` from cron does: another
    process, another connection, the same core."""
    with Cache.open(data_dir) as cache:
        rows = [r for r in iter_rows(cache, "sandbox") if r.sku in skus]
    the_plan = plan(
        SANDBOX_PAIR,
        rows,
        "store",
        ("quantity",),
        capabilities(SANDBOX_PAIR.store, "store"),
        capabilities(SANDBOX_PAIR.backoffice, "backoffice"),
    )
    assert not the_plan.is_empty
    apply(data_dir, SANDBOX_PAIR, the_plan, kind="sync")


async def until(pilot: Pilot[None], what: str, ok: Callable[[], bool]) -> None:
    for _ in range(800):
        if ok():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"never happened: {what}")


def quantity_rows(app: TuiSyncApp) -> list[str]:
    source = app.grid.source
    assert source is not None
    return [r.sku for r in source.fetch(0, 6) if r.cells["Q"] == "N"]


async def test_a_change_by_another_process_reloads_the_grid_and_keeps_the_cursor(
    data_dir: Path,
) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("4", "down", "down", "down")  # Quantity out of sync, fourth row
        first = quantity_rows(app)[:2]
        shown_before = screen_text(app)
        assert all(sku in shown_before for sku in first)
        count = app.counts["quantity"]
        await asyncio.to_thread(cron_sync, data_dir, set(first))
        await until(
            pilot,
            "the grid reloads without the synced rows",
            lambda: not any(sku in screen_text(app) for sku in first),
        )
        assert app.grid.cursor_row == 3
        await until(pilot, "the counts follow", lambda: app.counts["quantity"] == count - 2)
        assert "changed by another process" in screen_text(app)


async def test_a_plan_made_stale_by_another_process_must_be_shown_again(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("4", "space", "space", "space", "s", "p")
        dialog = app.screen
        assert isinstance(dialog, SyncDialog)
        await until(pilot, "the plan", lambda: dialog.plan is not None)
        assert dialog.plan is not None
        synced_elsewhere = {dialog.plan.changes[0].sku}
        await asyncio.to_thread(cron_sync, data_dir, synced_elsewhere)
        await until(pilot, "the plan goes stale", lambda: dialog.stale)
        assert "press p to show the plan again" in screen_text(app)
        await pilot.press("a")
        assert not isinstance(app.screen, ConfirmApply)  # a stale plan is never applied
        await pilot.press("p")
        await until(pilot, "the plan made again", lambda: dialog.plan is not None)
        assert dialog.plan is not None
        assert synced_elsewhere.isdisjoint(c.sku for c in dialog.plan.changes)
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmApply)
