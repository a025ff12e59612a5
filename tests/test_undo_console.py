"""Undo from the run log: `u` shows the reverse plan in the sync dialog, space picks its lines,
the same last prompt confirms, and the child process applies it as a run of kind `undo`. A value
someone else changed since the run is said plainly and never overwritten."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import SelectionList

from tests.conftest import make_app, settle
from tests.screen import screen_text
from tests.writekit import remote_value
from tui_sync import journal
from tui_sync.cache import Cache
from tui_sync.config import SANDBOX_PAIR
from tui_sync.connectors import capabilities
from tui_sync.refresh import refresh
from tui_sync.sandbox import outside
from tui_sync.sync import apply, plan
from tui_sync.tui.app import TuiSyncApp
from tui_sync.tui.screens.confirm_apply import ConfirmApply
from tui_sync.tui.screens.run_log import RunLogScreen
from tui_sync.tui.screens.sync_dialog import SyncDialog
from tui_sync.views import iter_rows


@pytest.fixture(autouse=True)
def no_arm_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ConfirmApply, "ARM_SECONDS", 0.0)


@dataclass(frozen=True)
class Synced:
    run_id: str
    # store item id -> (quantity before the run, quantity the run wrote)
    values: dict[str, tuple[str, str]]


def store_quantity(data_dir: Path, item_id: str) -> str:
    """The quantity the sandbox store holds for this item now, as its control panel shows it."""
    held = remote_value(data_dir, "store", item_id, "quantity")
    assert held is not None, item_id
    return held


def someone_else_sets(data_dir: Path, item_id: str, quantity: int) -> None:
    """A person editing the store by hand, as the vendor records it (`date_modified` bumped)."""
    outside.set_value(data_dir, "store", item_id, "quantity", quantity)


def sync_three(data_dir: Path) -> Synced:
    """A run that wrote three store quantities (through the core, as the CLI's sync does)."""
    refresh(data_dir, SANDBOX_PAIR)
    with Cache.open(data_dir) as cache:
        rows = [
            r
            for r in iter_rows(cache, "sandbox", statuses=["out_of_sync"])
            if r.cells["Q"] == "N" and r.backoffice and (r.backoffice.quantity or 0) >= 0
        ][:3]
    assert len(rows) == 3
    the_plan = plan(
        SANDBOX_PAIR,
        rows,
        "store",
        ("quantity",),
        capabilities(SANDBOX_PAIR.store, "store"),
        capabilities(SANDBOX_PAIR.backoffice, "backoffice"),
    )
    applied = apply(data_dir, SANDBOX_PAIR, the_plan, kind="sync")
    values = {
        e.item_id: (str(e.before), str(e.written))
        for e in applied.run.changes
        if e.result == "done" and e.item_id
    }
    assert len(values) == 3
    return Synced(applied.run.run_id, values)


async def until(pilot: Pilot[None], what: str, ok: Callable[[], bool]) -> None:
    for _ in range(800):
        if ok():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"never happened: {what}")


def undo_runs(app: TuiSyncApp) -> list[journal.Run]:
    return [r for r in journal.runs(app.cache, pair="sandbox") if r.kind == "undo"]


async def open_undo(app: TuiSyncApp, pilot: Pilot[None]) -> SyncDialog:
    await settle(pilot)
    await pilot.press("l")
    log = app.screen
    assert isinstance(log, RunLogScreen)
    await until(pilot, "the runs are read", lambda: log.loaded)
    await pilot.press("u")
    dialog = app.screen
    assert isinstance(dialog, SyncDialog)
    await until(pilot, "the reverse plan", lambda: dialog.plan is not None)
    return dialog


async def confirm_and_wait(app: TuiSyncApp, pilot: Pilot[None]) -> journal.Run:
    await pilot.press("a")
    assert isinstance(app.screen, ConfirmApply)
    await pilot.press("y")
    await until(pilot, "the undo is applied", lambda: app.busy is None and bool(undo_runs(app)))
    (run,) = undo_runs(app)
    return run


async def test_undo_from_the_run_log_restores_the_values(data_dir: Path) -> None:
    synced = await asyncio.to_thread(sync_three, data_dir)
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_undo(app, pilot)
        assert dialog.plan is not None and len(dialog.plan.changes) == 3
        assert "3 of 3 value(s) to restore on the store" in screen_text(app)
        run = await confirm_and_wait(app, pilot)
        assert run.undoes == synced.run_id and run.count("done") == 3
        log = app.screen
        assert isinstance(log, RunLogScreen)  # back on the log, which lists the undo
        await until(pilot, "the log lists the undo", lambda: log.runs[0].kind == "undo")
    for item_id, (before, _written) in synced.values.items():
        assert store_quantity(data_dir, item_id) == before


async def test_undo_refuses_a_value_changed_since_and_restores_the_rest(data_dir: Path) -> None:
    synced = await asyncio.to_thread(sync_three, data_dir)
    changed, *others = synced.values
    someone_else_sets(data_dir, changed, 9999)
    app = make_app(data_dir)  # its start-up refresh reads the hand-made change
    async with app.run_test(size=(100, 30)) as pilot:
        dialog = await open_undo(app, pilot)
        assert dialog.plan is not None
        assert {c.item_id for c in dialog.plan.changes} == set(others)
        shown = screen_text(app)
        assert "Cannot restore (1)" in shown
        assert "changed since by someone else (now 9999" in shown
        run = await confirm_and_wait(app, pilot)
        assert run.count("done") == 2
    assert store_quantity(data_dir, changed) == "9999"  # never overwritten
    for item_id in others:
        assert store_quantity(data_dir, item_id) == synced.values[item_id][0]


async def test_a_partial_undo_restores_only_the_picked_lines(data_dir: Path) -> None:
    synced = await asyncio.to_thread(sync_three, data_dir)
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_undo(app, pilot)
        assert dialog.plan is not None
        kept = dialog.plan.changes[0].item_id  # the first line, unpicked below
        assert app.focused is dialog.query_one("#lines", SelectionList)
        await pilot.press("space")
        await until(pilot, "one line unpicked", lambda: "2 of 3 value(s)" in screen_text(app))
        prompt_count = "Write 2 change(s) to the store"
        await pilot.press("a")
        assert prompt_count in screen_text(app)
        await pilot.press("y")
        await until(pilot, "the undo", lambda: app.busy is None and bool(undo_runs(app)))
        (run,) = undo_runs(app)
        assert run.count("done") == 2
    before, written = synced.values[kept]
    assert store_quantity(data_dir, kept) == written  # left as the run wrote it
    for item_id, (before, _) in synced.values.items():
        if item_id != kept:
            assert store_quantity(data_dir, item_id) == before
