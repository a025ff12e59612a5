"""`tui-sync auto`: refresh, then the pair's policy, through the guards, on a schedule.

One tick holds the pair for its whole length (refresh, plan, guards, apply) under one
`PairLock`, so a manual sync can never slip in between the read a plan is built on and its
writes; a manual sync during a tick waits (`--wait`) or is refused in one line, and vice versa.

The policy: the side to update is the one that is not the master; the fields are the pair's
`fields`; the rows are those out of sync (in orders too: their price may sync, their quantity
is refused by the plan, with its reason). A plan a guard refuses is reported and not applied:
`auto` never confirms by itself. An applied plan is a run of kind `auto`, undoable with `undo`.

The whole schedule runs in one asyncio loop with SIGINT/SIGTERM handlers installed once: a
signal during a write lets the batch in flight finish and settles the journal; during a refresh
it cancels the refresh (nothing is swapped in until its last transaction); during the sleep it
wakes it at once. The sleep is an `asyncio.wait_for` on the stop event: no polling.

A tick that fails is logged (one line with the time, on stderr) and the next one still happens,
sooner at first: the wait after a failure starts at `RETRY_FIRST_S` and doubles with each
failure in a row, up to the interval; a good tick resets it. A guard's refusal is not retried
sooner: the same plan would be refused again.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from tui_sync import guards, journal
from tui_sync.cache import AutoTick, Cache, CacheError, CacheThread
from tui_sync.config import PairConfig
from tui_sync.connectors import pair_connectors
from tui_sync.lock import PairBusy, PairLock
from tui_sync.model import Plan, Row, Status, other_side
from tui_sync.refresh import RefreshSummary, refresh_with
from tui_sync.sync import StopOnSignals, apply_plan, plan, recover
from tui_sync.text import inert
from tui_sync.views import iter_rows

# The first retry after a failed tick; it doubles per failure in a row, up to the interval.
RETRY_FIRST_S = 60.0

# Rows the policy looks at; the plan refuses (and lists) what in them may not be written.
POLICY_STATUSES = (Status.OUT_OF_SYNC.value, Status.IN_ORDERS.value)


@dataclass(slots=True)
class TickResult:
    ok: bool
    line: str  # the tick's summary (without the time)
    run: journal.Run | None = None
    guarded: list[str] = field(default_factory=list)  # the guards' reasons, when refused
    stopped: bool = False  # a signal arrived during the tick
    plan: Plan | None = None  # the plan the tick built (applied or not)
    summary: str = ""  # the result in a few words, for the console's status line

    def __post_init__(self) -> None:
        if not self.summary:
            self.summary = _summary(self)


def _summary(result: TickResult) -> str:
    if result.guarded:
        return f"refused by a guard: {result.guarded[0]}"
    if result.run is not None:
        run = result.run
        bad = sum(run.count(r) for r in ("conflict", "failed", "unknown"))
        return f"{run.count('done'):,} written" + (f", {bad:,} conflict/failed" if bad else "")
    if not result.ok:
        return f"failed: {result.line.removeprefix('tick failed: ')}"
    if result.plan is not None and result.plan.is_empty and not result.stopped:
        return "nothing to write"
    return result.line.split("; ")[-1]


def guard_reasons(data_dir: Path, pair: PairConfig, the_plan: Plan) -> list[str]:
    """What the guards say of a plan, on a cache connection of the caller's thread (the
    console's sync dialog asks this in its planning thread)."""
    with Cache.open(data_dir) as cache:
        if cache.refresh_info(pair.name) is None:
            return []
        return guards.check(
            the_plan, guard_counts(cache, pair, the_plan), guards.Thresholds.of(pair)
        )


def guard_counts(cache: Cache, pair: PairConfig, the_plan: Plan) -> guards.Counts:
    info = cache.refresh_info(pair.name)
    assert info is not None  # a plan is only built after a refresh
    return guards.Counts(
        info.store_items,
        info.backoffice_items,
        info.prev_store_items,
        info.prev_backoffice_items,
        cache.sellable_with(pair.name, the_plan.target, "quantity"),
        cache.sellable_with(pair.name, the_plan.target, "price"),
    )


def _policy_rows(cache: Cache, pair: PairConfig) -> list[Row]:
    return [r for r in iter_rows(cache, pair.name, statuses=POLICY_STATUSES) if r.is_out_of_sync]


async def tick(
    data_dir: Path, pair: PairConfig, stop: asyncio.Event, wait: float = 0.0
) -> TickResult:
    """One refresh + policy sync, holding the pair throughout. Raises on an error (an API
    down, a busy pair): the schedule logs it and goes on."""
    async with _hold(data_dir, pair, wait, stop) as lock:
        if lock is None:
            return TickResult(True, "stopped while waiting for the pair: nothing written")
        db = CacheThread(data_dir)
        try:
            async with pair_connectors(data_dir, pair) as conns:
                recovered = await recover(db, pair, conns)
                summary = await _until_stopped(
                    refresh_with(db, pair, conns, None, False, recovered), stop
                )
                if summary is None:
                    return TickResult(True, "stopped during the refresh: nothing written", None)
                target = other_side(pair.master)
                caps = (conns[target].capabilities, conns[other_side(target)].capabilities)

                def build(cache: Cache) -> tuple[Plan, list[str]]:
                    the_plan = plan(pair, _policy_rows(cache, pair), target, pair.fields, *caps)
                    counts = guard_counts(cache, pair, the_plan)
                    return the_plan, guards.check(the_plan, counts, guards.Thresholds.of(pair))

                the_plan, refused = await db.call(build)
                head = _refresh_words(summary)
                if refused:
                    return TickResult(
                        False,
                        f"{head}; plan of {len(the_plan.changes):,} change(s) refused by a "
                        f"guard, nothing written (plan hash {guards.plan_hash(the_plan)})",
                        None,
                        refused,
                        plan=the_plan,
                    )
                if the_plan.is_empty:
                    return TickResult(
                        True,
                        f"{head}; nothing to write ({the_plan.unchanged:,} equal, "
                        f"{len(the_plan.refusals):,} refused)",
                        plan=the_plan,
                    )
                if stop.is_set():
                    return TickResult(
                        True, f"{head}; stopped before writing", stopped=True, plan=the_plan
                    )
                run = await apply_plan(db, pair, the_plan, conns, None, stop, "auto", None, lock)
        finally:
            db.close()
    bad = sum(run.count(r) for r in ("conflict", "failed", "unknown"))
    counts = ", ".join(
        f"{run.count(r):,} {r}" for r in ("done", "conflict", "failed", "unknown", "refused")
    )
    return TickResult(
        not bad, f"{head}; run {run.run_id} {run.state}: {counts}", run, plan=the_plan
    )


@contextlib.asynccontextmanager
async def _hold(
    data_dir: Path, pair: PairConfig, wait: float, stop: asyncio.Event
) -> AsyncIterator[PairLock | None]:
    """Hold the pair, waiting up to `wait` seconds for another run to end (None: a signal came
    first). Tried here rather than by PairLock's own blocking wait, so that a signal during
    the wait is heard at once."""
    deadline = time.monotonic() + wait
    while True:
        try:
            lock = PairLock(data_dir, pair.name, "auto").acquire()
            break
        except PairBusy:
            if time.monotonic() >= deadline:
                raise
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.1)
        if stop.is_set():
            yield None
            return
    try:
        yield lock
    finally:
        lock.release()


async def _until_stopped(
    work: Awaitable[RefreshSummary], stop: asyncio.Event
) -> RefreshSummary | None:
    """The refresh, or None when a signal came first (the refresh is cancelled: it swaps
    nothing in until its last transaction, so cancelling it loses nothing)."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


def _refresh_words(summary: RefreshSummary) -> str:
    return (
        f"refreshed {summary.store_items:,} store / {summary.backoffice_items:,} back-office items"
    )


# --- the schedule -------------------------------------------------------------------------

Tick = Callable[[Path, PairConfig, asyncio.Event, float], Awaitable[TickResult]]
Sleep = Callable[[float, asyncio.Event], Awaitable[None]]
Clock = Callable[[], datetime]


async def sleep_or_stop(seconds: float, stop: asyncio.Event) -> None:
    """Sleep `seconds`, or less if a signal sets `stop`: a wait on the event, not a poll."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(clock: Clock) -> str:
    return clock().strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Schedule:
    """What `auto` runs; the tick, the sleep and the clock are injectable, so tests drive a
    schedule of 15-minute intervals without waiting for any of them."""

    data_dir: Path
    pair: PairConfig
    every: float | None  # seconds between ticks; None: one tick (`--once`)
    out: TextIO
    err: TextIO
    wait: float = 0.0
    tick: Tick = tick
    sleep: Sleep = sleep_or_stop
    clock: Clock = utc_now
    waits: list[float] = field(default_factory=list)  # every sleep asked for, for the tests

    def next_wait(self, failures: int, guarded: bool) -> float:
        assert self.every is not None
        return next_wait(self.every, failures, guarded)

    async def one(self, stop: asyncio.Event) -> TickResult:
        """A tick; an error in it is a failed tick, logged in one line with the time. Either
        way it is the pair's last tick, which the console shows."""
        try:
            result = await self.tick(self.data_dir, self.pair, stop, self.wait)
        except PairBusy as exc:  # who holds it, in the few words the console has room for
            holder = _one_line(exc).partition(" is busy: ")[2].partition("; try again")[0]
            result = TickResult(False, f"tick failed: {_one_line(exc)}", summary=f"busy: {holder}")
            self.say(result.line, self.err)
        except Exception as exc:
            result = TickResult(False, f"tick failed: {_one_line(exc)}")
            self.say(result.line, self.err)
        else:
            self.say(result.line, self.out)
            for reason in result.guarded:
                self.say(f"guard: {reason}", self.err)
        self._record(result)
        return result

    def _record(self, result: TickResult) -> None:
        run_id = None if result.run is None else result.run.run_id
        tick = AutoTick(stamp(self.clock), result.ok, result.summary, result.line, run_id)
        try:
            with Cache.open(self.data_dir) as cache:
                cache.record_tick(self.pair.name, tick)
        except (CacheError, sqlite3.Error) as exc:  # the tick itself is done and logged
            self.say(f"could not record the tick for the console: {_one_line(exc)}", self.err)

    async def once(self) -> TickResult:
        """One tick with SIGINT/SIGTERM heard (the console's worker process runs this)."""
        stop = asyncio.Event()
        with StopOnSignals(stop):
            return await self.one(stop)

    def say(self, line: str, to: TextIO) -> None:
        # Text from outside (a pair name, an API's error) is made inert before a terminal.
        print(
            f"{stamp(self.clock)} {inert(self.pair.name)} auto: {inert(line)}", file=to, flush=True
        )

    async def run(self) -> int:
        """0: stopped by a signal (or `--once` went well); 1: `--once` failed or was refused."""
        stop = asyncio.Event()
        with StopOnSignals(stop):
            if self.every is None:
                result = await self.one(stop)
                return 0 if result.ok else 1
            failures = 0
            while not stop.is_set():
                started = self.clock()
                result = await self.one(stop)
                if stop.is_set():
                    break
                failures = 0 if result.ok or result.guarded else failures + 1
                elapsed = (self.clock() - started).total_seconds()
                wait = max(0.0, self.next_wait(failures, bool(result.guarded)) - elapsed)
                self.waits.append(wait)
                await self.sleep(wait, stop)
        self.say("stopped", self.out)
        return 0


def next_wait(every: float, failures: int, guarded: bool) -> float:
    """After a good tick, or a guard's refusal: the interval. After `failures` failed ticks
    in a row: RETRY_FIRST_S doubled per failure, up to the interval."""
    if failures == 0 or guarded:
        return every
    return min(every, RETRY_FIRST_S * (1 << min(failures - 1, 30)))


def run(schedule: Schedule) -> int:
    return asyncio.run(schedule.run())


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
