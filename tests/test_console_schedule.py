"""The schedule in the console (`A`): each tick is `auto --once` in the worker process, under the
pair lock. The timer is injected (`timer=`), so a test fires a tick when it wants: no test waits
for an interval, and every wait below is for a condition, never a fixed time."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from textual.pilot import Pilot

from tests.conftest import FIXED_TIME, settle
from tests.screen import screen_text
from tests.writekit import (
    SCRIPT,
    journal_entries,
    plant_store_quantities,
    run_ids,
    write_calls,
    zero_backoffice,
)
from tui_sync import journal
from tui_sync.cache import AutoTick
from tui_sync.config import SANDBOX_PAIR
from tui_sync.lock import PairLock
from tui_sync.model import Status
from tui_sync.sandbox import outside, pair
from tui_sync.tui.app import TuiSyncApp, local_time

EVERY = timedelta(minutes=15)
PAIR = replace(SANDBOX_PAIR, schedule=EVERY)


@dataclass
class Armed:
    seconds: float
    callback: Callable[[], None]
    stopped: bool = False
    fired: bool = False

    def stop(self) -> None:
        self.stopped = True


class Timers:
    """Stands in for Textual's set_timer: records what the console arms, fires on demand."""

    def __init__(self) -> None:
        self.armed: list[Armed] = []

    def __call__(self, seconds: float, callback: Callable[[], None]) -> Armed:
        self.armed.append(Armed(seconds, callback))
        return self.armed[-1]

    def live(self) -> list[Armed]:
        return [a for a in self.armed if not (a.stopped or a.fired)]

    def fire(self) -> None:
        (timer,) = self.live()
        timer.fired = True
        timer.callback()


def console(data_dir: Path, timers: Timers) -> TuiSyncApp:
    return TuiSyncApp(data_dir, PAIR, clock=lambda: FIXED_TIME, timer=timers)


async def until(pilot: Pilot[None], what: str, probe: Callable[[], bool]) -> None:
    for _ in range(1500):
        if probe():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def next_tick(pilot: Pilot[None], app: TuiSyncApp, before: AutoTick | None) -> AutoTick:
    """Wait until a tick after `before` has ended and its result reached the screen."""
    await until(pilot, "the tick", lambda: app.last_tick is not before and app.busy is None)
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert app.last_tick is not None
    return app.last_tick


def vendors(data_dir: Path) -> object:
    """All the two vendors hold and were ever sent: their values, the writes they applied and
    the write requests the store received."""
    return outside.values(data_dir), outside.applied_writes(data_dir), write_calls(data_dir)


def auto_runs(app: TuiSyncApp) -> list[journal.Run]:
    return [r for r in journal.runs(app.cache, pair="sandbox") if r.kind == "auto"]


async def test_the_schedule_ticks_shows_its_last_and_next_run_reloads_the_grid_and_stops(
    data_dir: Path,
) -> None:
    timers = Timers()
    app = console(data_dir, timers)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "auto " not in screen_text(app).splitlines()[-2]  # nothing to say yet
        # The cursor on a row the policy will sync (quantity and price; not cost, not QN).
        rows = app.grid.source.fetch(0, len(app.grid.source))  # type: ignore[union-attr,arg-type]
        target = next(
            r
            for r in rows
            if r.status is Status.OUT_OF_SYNC and r.cells["QN"] != "N" and r.cells["C"] != "N"
        )
        app.grid.cursor_row = target.pos
        out_before = app.counts["out_of_sync"]
        await pilot.press("A")  # a tick at once, as `auto --every` does
        assert app.busy == "Automatic sync"
        tick = await next_tick(pilot, app, None)
        (run,) = auto_runs(app)
        assert tick.ok and tick.run_id == run.run_id and run.count("done") > 0
        assert tick.summary == f"{run.count('done')} written"
        status_line = screen_text(app).splitlines()[-2]
        assert f"auto {local_time(tick.at)} {run.count('done')} written · next 12:15" in status_line
        assert [t.seconds for t in timers.armed] == [EVERY.total_seconds()]
        # The grid reloaded its rows, the cursor where it was.
        assert app.grid.cursor_row == target.pos
        row = app.grid.current_row
        assert row is not None and row.sku == target.sku and row.status is Status.IN_SYNC
        assert app.counts["out_of_sync"] < out_before
        assert f"{app.counts['out_of_sync']:,}" in screen_text(app).splitlines()[1]
        # Stopped: the timer is disarmed; the last tick stays on screen, with no next.
        await pilot.press("A")
        assert not timers.live() and not app.auto_on
        status_line = screen_text(app).splitlines()[-2]
        assert f"auto {local_time(tick.at)} {run.count('done')} written" in status_line
        assert "next" not in status_line
    # Recorded for the next console (and shown there): a tick of cron would be too.
    app = console(data_dir, Timers())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.last_tick == tick
        assert f"auto {local_time(tick.at)} {run.count('done')} written" in screen_text(app)


async def test_a_busy_pair_fails_the_tick_in_one_line_then_the_next_still_syncs_and_a_guard_refuses(
    data_dir: Path,
) -> None:
    timers = Timers()
    app = console(data_dir, timers)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("A")
        first = await next_tick(pilot, app, None)
        assert first.ok
        # Another process holds the pair (a manual sync from the CLI): the tick says so.
        with PairLock(data_dir, "sandbox", "sync"):
            timers.fire()
            busy = await next_tick(pilot, app, first)
        assert not busy.ok and busy.summary.startswith("busy: sync since ")
        status_line = screen_text(app).splitlines()[-2]
        assert f"auto {local_time(busy.at)} busy: sync" in status_line
        assert status_line.rstrip().endswith("· next 12:01")  # a failure retries sooner
        assert timers.armed[-1].seconds == 60.0
        # The next tick still happens, and syncs what changed meanwhile.
        store_ids = [
            r.store.id
            for r in app.grid.source.fetch(0, 400)  # type: ignore[union-attr]
            if r.status is Status.IN_SYNC and r.store and r.backoffice and not r.store.is_base
        ][:5]
        plant_store_quantities(data_dir, store_ids, random.Random(7))
        timers.fire()
        again = await next_tick(pilot, app, busy)
        assert again.ok and again.summary == "5 written", again
        assert timers.armed[-1].seconds == EVERY.total_seconds()  # the interval again
        assert "· next 12:15" in screen_text(app).splitlines()[-2]
        # A broken feed: the guard refuses; nothing is written and nothing is confirmed.
        zero_backoffice(data_dir, 120)
        runs_before, remote_before = run_ids(data_dir), vendors(data_dir)
        timers.fire()
        refused = await next_tick(pilot, app, again)
        assert not refused.ok and refused.summary.startswith("refused by a guard: ")
        assert "guard_zeroed 20%" in refused.summary
        assert run_ids(data_dir) == runs_before
        assert vendors(data_dir) == remote_before
        assert f"auto {local_time(refused.at)} refused by a guard" in screen_text(app)
        assert timers.armed[-1].seconds == EVERY.total_seconds()  # not retried sooner


async def test_a_tick_due_during_the_consoles_own_refresh_waits_for_it(data_dir: Path) -> None:
    timers = Timers()
    app = console(data_dir, timers)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("A")
        first = await next_tick(pilot, app, None)
        await pilot.press("r")
        assert app.busy == "Refresh"
        timers.fire()  # due while the refresh runs: not started beside it
        assert app.busy == "Refresh"
        assert screen_text(app).splitlines()[-2].startswith(" Refresh…")
        assert "· waiting" in screen_text(app).splitlines()[-2]
        await pilot.press("A", "A")  # stopped and started again: still one tick waiting
        assert app.busy == "Refresh" and not timers.live()
        second = await next_tick(pilot, app, first)
        assert second.ok
        assert app.last_refresh.startswith("refreshed")
        assert len(timers.live()) == 1


async def test_stopping_the_schedule_mid_tick_finishes_the_batch_in_flight(data_dir: Path) -> None:
    # 150 store quantities off (no pending order on them): three batches of 50 to the store.
    ordered = {sku for _, sku, _ in outside.pending_orders(data_dir)}
    held = outside.values(data_dir)
    ids = [
        item_id
        for item_id, sku in outside.skus(data_dir, "store").items()
        if sku not in ordered and int(held[("store", item_id)][0] or 0) >= 0
    ][:150]
    assert len(ids) == 150
    outside.set_values(data_dir, "store", "quantity", dict.fromkeys(ids, 1000))
    timers = Timers()
    app = console(data_dir, timers)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # Each call waits 800 ms: the tick is still writing when the schedule is stopped. (The
        # switches are read when the tick's process starts the sandbox's servers: after `A`.)
        pair.set_latency(data_dir, 800)
        await pilot.press("A")
        await until(
            pilot,
            "the tick's first batch",
            lambda: any(e.result == "done" for e in journal_entries(data_dir)),
        )
        await pilot.press("A")
        assert "Stopping the automatic sync" in screen_text(app)
        tick = await next_tick(pilot, app, None)
        (run,) = auto_runs(app)
        assert tick.run_id == run.run_id
        stopped = [c for c in run.changes if c.reason and "stopped" in c.reason]
        assert stopped and all(c.result == "refused" for c in stopped)
        assert run.count("unknown") == 0 and run.count("done") >= 50
        assert not timers.armed and not app.auto_on  # no next tick
        assert "next" not in screen_text(app).splitlines()[-2]


async def test_a_pair_without_a_schedule_says_how_to_set_one(data_dir: Path) -> None:
    timers = Timers()
    app = TuiSyncApp(data_dir, SANDBOX_PAIR, timer=timers, refresh_on_start=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("A")
        await pilot.pause()
        assert not app.auto_on and app.busy is None and not timers.armed
        (note,) = [n.message for n in app._notifications]
        assert note == (
            'Pair sandbox has no schedule: set schedule = "30m" (15m..24h) in [pairs.sandbox] '
            "of the config"
        )


async def test_a_manual_sync_from_a_shell_during_a_tick_is_refused_in_one_line(
    data_dir: Path,
) -> None:
    lock_file = data_dir / "locks" / "sandbox.lock"

    def holder() -> str | None:
        try:
            return str(json.loads(lock_file.read_text() or "{}").get("what"))
        except (OSError, ValueError):
            return None

    timers = Timers()
    app = console(data_dir, timers)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # Each call waits 3 s: the tick holds the pair for many seconds after it takes it.
        # (Read by the tick's process when it starts the sandbox's servers, on `A`.)
        pair.set_latency(data_dir, 3000)
        await pilot.press("A")
        await until(pilot, "the tick to hold the pair", lambda: holder() == "auto")
        config = data_dir.parent / "config.toml"
        config.write_text("")
        manual = await asyncio.create_subprocess_exec(
            *(SCRIPT, "--config", str(config), "--data-dir", str(data_dir)),
            *("sync", "--to", "store", "--fields", "quantity", "--all", "--yes"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await manual.communicate()
        assert app.busy == "Automatic sync", "the tick ended before the manual sync ran"
        assert manual.returncode == 1
        (line,) = err.decode().splitlines()
        assert line.startswith("tui-sync: pair 'sandbox' is busy: auto ")
        await pilot.press("A")  # the tick ends soon, and well (wherever the stop found it)
        tick = await next_tick(pilot, app, None)
        assert tick.ok and all(r.count("unknown") == 0 for r in auto_runs(app))
