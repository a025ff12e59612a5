"""`tui-sync auto`: interval bounds, `--once` exit codes, back-off after failed ticks (in-process,
with an injected sleep and clock: no test waits for an interval), the pair lock against a manual
sync and SIGTERM mid-run (real processes on a slowed sandbox)."""

from __future__ import annotations

import asyncio
import io
import json
import random
import re
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.writekit import (
    PAIR,
    Home,
    in_sync_with_quantity,
    journal_entries,
    plant_store_quantities,
    refreshed_home,
    run_ids,
    wait_for,
    zero_backoffice,
)
from tui_sync import journal, scheduler
from tui_sync.cache import Cache
from tui_sync.config import SANDBOX_PAIR, PairConfig
from tui_sync.lock import PairLock
from tui_sync.sandbox import outside, pair, state

SIZE = 400
FIXED = datetime(2026, 12, 1, 3, 0, 0, tzinfo=UTC)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    with refreshed_home(tmp_path, SIZE) as home:
        yield home


def runs(home: Home) -> list[journal.Run]:
    with Cache.open(home.data) as cache:
        return journal.runs(cache)


def last_tick(home: Home) -> tuple[bool, str, str | None]:
    with Cache.open(home.data) as cache:
        tick = cache.last_tick(PAIR)
    assert tick is not None
    return tick.ok, tick.summary, tick.run_id


# --- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize("every", ["14m", "24h1s", "0s", "2d"])
def test_an_interval_out_of_range_is_bad_usage_naming_the_range(home: Home, every: str) -> None:
    out = home.run("auto", "--every", every)
    assert out.returncode == 2
    assert out.stderr == f"tui-sync: --every: duration '{every}' is out of range 15m..24h\n"


def test_auto_without_an_interval_takes_the_pairs_schedule_or_says_it_has_none(
    home: Home,
) -> None:
    out = home.run("auto")
    assert out.returncode == 2
    assert "pair 'sandbox' has no schedule; give --every 15m..24h, or --once" in out.stderr
    assert home.run("auto", "--once", "--every", "30m").returncode == 2  # one or the other


def test_once_syncs_the_policy_as_an_undoable_auto_run_then_is_refused_by_a_guard(
    home: Home,
) -> None:
    out = home.run("auto", "--once")
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.splitlines()
    (run,) = runs(home)
    assert run.kind == "auto" and run.target == "store" and run.fields == "quantity,price"
    assert re.fullmatch(
        rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ sandbox auto: .*run {run.run_id} done: .*", line
    )
    assert run.count("done") == 20  # the sandbox's planted quantity and price differences
    # Recorded as the pair's last tick, for the console to show (a refusal writes no run).
    assert last_tick(home) == (True, "20 written", run.run_id)
    home.ok("undo", run.run_id)
    assert [r.kind for r in runs(home)] == ["undo", "auto"]
    # A broken feed: a third of the back office reads zero. auto never confirms by itself.
    home.ok("refresh")
    zero_backoffice(home.data, 120)
    before = outside.values(home.data), run_ids(home.data)
    out = home.run("auto", "--once")
    assert out.returncode == 1
    assert "refused by a guard, nothing written (plan hash " in out.stdout
    (guard,) = [ln for ln in out.stderr.splitlines() if " auto: guard: " in ln]
    assert guard.endswith("quantities would be set to zero (guard_zeroed 20%)")
    assert (outside.values(home.data), run_ids(home.data)) == before  # no write, no run
    ok, summary, run_id = last_tick(home)
    assert not ok and run_id is None
    assert summary.startswith("refused by a guard: ") and summary.endswith("(guard_zeroed 20%)")


def test_a_tick_while_a_manual_run_holds_the_pair_is_refused_in_one_line(home: Home) -> None:
    with PairLock(home.data, PAIR, "sync"):
        out = home.run("auto", "--once")
    assert out.returncode == 1
    (line,) = out.stderr.splitlines()
    assert " sandbox auto: tick failed: pair 'sandbox' is busy: sync since " in line
    assert line[:4].isdigit() and line[19] == "Z"  # the time first
    ok, summary, run_id = last_tick(home)
    assert not ok and run_id is None and summary.startswith("busy: sync since ")


# --- the schedule, in-process: injected sleep and clock -----------------------------------------


class FakeTime:
    """A clock that only moves when the schedule sleeps: no test waits for an interval."""

    def __init__(self) -> None:
        self.now = FIXED

    def clock(self) -> datetime:
        return self.now


def schedule(home: Home, out: io.StringIO, err: io.StringIO, **kw: object) -> scheduler.Schedule:
    fake = FakeTime()
    made = scheduler.Schedule(home.data, SANDBOX_PAIR, 900.0, out, err, clock=fake.clock)
    for key, value in kw.items():
        setattr(made, key, value)
    return made


def test_failed_ticks_back_off_doubling_up_to_the_interval_and_reset_on_success(
    home: Home,
) -> None:
    script = iter([False] * 5 + [True] + [False] + [True])  # False: the tick raises
    stops_after = 8

    async def fake_tick(
        data: Path, pair: PairConfig, stop: asyncio.Event, wait: float
    ) -> scheduler.TickResult:
        if next(script):
            return scheduler.TickResult(True, "ok")
        raise ConnectionError("the API is down\nsecond line")

    async def fake_sleep(seconds: float, stop: asyncio.Event) -> None:
        if len(made.waits) >= stops_after:
            stop.set()

    out, err = io.StringIO(), io.StringIO()
    made = schedule(home, out, err, tick=fake_tick, sleep=fake_sleep)
    assert scheduler.run(made) == 0
    assert made.waits == [60, 120, 240, 480, 900, 900, 60, 900]
    failed = err.getvalue().splitlines()
    assert len(failed) == 6
    assert (
        failed[0] == "2026-12-01T03:00:00Z sandbox auto: tick failed: the API is down second line"
    )
    assert out.getvalue().splitlines()[-1] == "2026-12-01T03:00:00Z sandbox auto: stopped"


def test_a_failing_tick_is_logged_and_the_next_one_still_syncs(home: Home) -> None:
    # The first tick finds the sandbox's state file broken; the sleep mends it, as an API that
    # comes back would be.
    store = state.store_path(home.data)
    aside = store.with_suffix(".aside")
    store.rename(aside)
    store.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)  # truncated: unusable

    async def mend_then_stop(seconds: float, stop: asyncio.Event) -> None:
        if len(made.waits) == 1:
            aside.replace(store)
        else:
            stop.set()

    out, err = io.StringIO(), io.StringIO()
    made = schedule(home, out, err, sleep=mend_then_stop)
    assert scheduler.run(made) == 0
    assert made.waits[0] == scheduler.RETRY_FIRST_S  # sooner than the interval after a failure
    assert made.waits[1] == 900.0
    (failed,) = err.getvalue().splitlines()
    assert failed.startswith("2026-12-01T03:00:00Z sandbox auto: tick failed: ")
    (run,) = runs(home)
    assert run.kind == "auto" and run.state == "done" and run.count("done") > 0
    assert f"run {run.run_id} done" in out.getvalue()


# --- real processes: the lock, and SIGTERM mid-run -----------------------------------------------


def lock_holder(home: Home) -> dict[str, object] | None:
    path = home.data / "locks" / "sandbox.lock"
    try:
        record = json.loads(path.read_text() or "null")
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


def test_a_manual_sync_during_an_auto_tick_is_refused_or_waits_and_sigterm_stops_the_sleep(
    home: Home,
) -> None:
    pair.set_latency(home.data, 800)  # a tick of a few seconds
    proc = home.popen("auto", "--every", "15m")
    try:
        wait_for(
            "the tick to hold the pair", lambda: (lock_holder(home) or {}).get("what") == "auto"
        )
        busy = home.run("sync", "--to", "store", "--fields", "quantity", "--all")
        assert busy.returncode == 1
        assert "pair 'sandbox' is busy: auto" in busy.stderr
        assert "try again when it ends, or add --wait" in busy.stderr
        waited = home.run("sync", "--to", "store", "--fields", "quantity", "--all", "--wait", "60")
        assert waited.returncode == 0, waited.stderr  # after the tick, while auto sleeps
        assert lock_holder(home) in (None, {})  # asleep, auto does not hold the pair
    finally:
        code, out, err = stop(proc)
    assert code == 0, err
    lines = out.splitlines()
    assert " sandbox auto: refreshed " in lines[0] and "run r-" in lines[0]
    assert lines[-1].endswith(" sandbox auto: stopped")
    kinds = [r.kind for r in runs(home)]
    assert sorted(kinds) == ["auto"] or sorted(kinds) == ["auto", "sync"]


def test_sigterm_mid_run_finishes_the_batch_settles_the_journal_and_exits_0(home: Home) -> None:
    rows = in_sync_with_quantity(home.rows())[:200]
    plant_store_quantities(home.data, [r.store.id for r in rows if r.store], random.Random(7))
    pair.set_latency(home.data, 600)  # 5 batches of 50, each a while
    proc = home.popen("auto", "--every", "15m")

    def journaled() -> bool:
        return any(e.result != "refused" for e in journal_entries(home.data))

    try:
        wait_for("the first batch to be journaled", journaled, timeout=40)
    finally:
        code, out, err = stop(proc)
    assert code == 0, err
    assert out.splitlines()[-1].endswith(" sandbox auto: stopped")
    entries = journal_entries(home.data)
    assert entries and not [e for e in entries if e.result == "unknown"]  # nothing unknown left
    (run,) = runs(home)
    assert run.kind == "auto" and not run.state.startswith("running")
    stopped = [e for e in entries if e.reason and "the run was stopped" in e.reason]
    assert stopped, "the run went on after SIGTERM"


def test_a_tick_waits_for_a_manual_run_and_a_signal_during_the_wait_stops_it(home: Home) -> None:
    async def scenario() -> tuple[scheduler.TickResult, scheduler.TickResult, float]:
        stop = asyncio.Event()
        manual = PairLock(home.data, PAIR, "sync").acquire()
        # The manual run ends after a moment: the tick, waiting, then holds the pair and syncs.
        asyncio.get_running_loop().call_later(0.3, manual.release)
        waited = await scheduler.tick(home.data, SANDBOX_PAIR, stop, wait=30)
        manual = PairLock(home.data, PAIR, "sync").acquire()
        try:
            asyncio.get_running_loop().call_later(0.3, stop.set)  # as SIGTERM would
            started = asyncio.get_running_loop().time()
            stopped = await scheduler.tick(home.data, SANDBOX_PAIR, stop, wait=30)
            took = asyncio.get_running_loop().time() - started
        finally:
            manual.release()
        return waited, stopped, took

    waited, stopped, took = asyncio.run(scenario())
    assert waited.ok and waited.run is not None and waited.run.kind == "auto", waited.line
    assert stopped.ok and stopped.line == "stopped while waiting for the pair: nothing written"
    assert took < 5  # heard at once, not at the end of the 30 s wait
