"""One writer per pair, with real processes: a sync during a refresh, a refresh during a sync, two
syncs of one pair. The second refuses in one line naming what holds the pair (exit 1), or, with
`wait`, queues behind it; nothing is lost or doubled; a killed holder frees the pair at once.

The CLI has no `--wait` flag (yet), so waiting is tested through `sync.apply(..., wait=)`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.writekit import (
    PAIR,
    Home,
    journal_entries,
    q_rows,
    refreshed_home,
    remote_value,
    run_ids,
    wait_for,
)
from tui_sync import journal, sync
from tui_sync.cache import Cache
from tui_sync.config import SANDBOX_PAIR
from tui_sync.connectors import capabilities
from tui_sync.lock import PairBusy, PairLock
from tui_sync.model import Row
from tui_sync.sandbox import outside, pair
from tui_sync.views import iter_rows

SIZE = 300
QTY = ("sync", "--to", "store", "--fields", "quantity", "--sku")


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    with refreshed_home(tmp_path, SIZE) as home:
        yield home


@pytest.fixture
def gate(home: Home) -> Iterator[Path]:
    """While this file exists the store's server holds every request: the first process stays
    inside its run, holding the pair, until the test removes the file (no timing to race)."""
    path = home.data / "store-gate"
    path.touch()
    pair.hold_store(home.data, path)
    yield path
    path.unlink(missing_ok=True)


def holder(home: Home) -> dict[str, object] | None:
    """What the lock file says holds the pair, once it says so."""
    path = home.data / "locks" / f"{PAIR}.lock"
    try:
        record = json.loads(path.read_text() or "null")
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("what") else None


def held_by(home: Home, what: str, with_run: bool = False) -> dict[str, object]:
    def probe() -> dict[str, object] | None:
        record = holder(home)
        if record and record["what"] == what and (record.get("run") or not with_run):
            return record
        return None

    return wait_for(f"the pair held by {what}", probe)


def skus(rows: Sequence[Row]) -> str:
    return ",".join(r.sku for r in rows)


def written_once(home: Home, rows: Sequence[Row]) -> None:
    """Every row's store quantity is the back office's, applied exactly once."""
    ids = {r.store.id: r for r in rows if r.store}
    applied = [w for w in outside.applied_writes(home.data) if w[1] in ids]
    assert sorted(w[1] for w in applied) == sorted(ids)
    for item_id, row in ids.items():
        assert row.backoffice is not None
        assert remote_value(home.data, "store", item_id, "quantity") == str(row.backoffice.quantity)


def refused_in_one_line(out: subprocess.CompletedProcess[str], names: str) -> None:
    assert out.returncode == 1, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"tui-sync: pair '{PAIR}' is busy: {names} since "), lines


def test_a_sync_during_a_refresh_refuses_in_one_line(home: Home, gate: Path) -> None:
    rows = q_rows(home, 3)
    slow = home.popen("refresh")
    record = held_by(home, "refresh")
    out = home.run(*QTY, skus(rows))
    assert slow.poll() is None  # the refresh still held the pair when the sync gave up
    refused_in_one_line(out, "refresh")
    assert f"(pid {slow.pid})" in out.stderr
    gate.unlink()
    assert slow.wait(timeout=60) == 0
    assert run_ids(home.data) == [] and outside.applied_writes(home.data) == []
    assert record["pid"] == slow.pid
    home.ok(*QTY, skus(rows))  # the pair is free again
    written_once(home, rows)


def test_a_refresh_during_a_sync_refuses_and_the_sync_settles_all(home: Home, gate: Path) -> None:
    rows = q_rows(home, 4)
    slow = home.popen(*QTY, skus(rows))
    record = held_by(home, "sync", with_run=True)
    out = home.run("refresh")
    assert slow.poll() is None
    refused_in_one_line(out, f"sync {record['run']}")
    gate.unlink()
    _, err = slow.communicate(timeout=60)
    assert slow.returncode == 0, err
    assert {e.result for e in journal_entries(home.data)} == {"done"}
    written_once(home, rows)


def test_two_syncs_of_one_pair_the_second_refuses_naming_the_run(home: Home, gate: Path) -> None:
    rows = q_rows(home, 4)
    first = home.popen(*QTY, skus(rows))
    record = held_by(home, "sync", with_run=True)
    second = home.run(*QTY, skus(rows))
    assert first.poll() is None
    refused_in_one_line(second, f"sync {record['run']}")
    gate.unlink()
    assert first.wait(timeout=60) == 0
    assert run_ids(home.data) == [record["run"]]  # the second started no run
    written_once(home, rows)


def test_a_second_sync_that_waits_queues_behind_the_first_and_doubles_nothing(
    home: Home, gate: Path
) -> None:
    rows = q_rows(home, 4)
    with Cache.open(home.data) as cache:  # planned now, from the cache the first will change
        keys = {r.key for r in rows}
        the_plan = sync.plan(
            SANDBOX_PAIR,
            [r for r in iter_rows(cache, PAIR) if r.key in keys],
            "store",
            ("quantity",),
            capabilities(SANDBOX_PAIR.store, "store"),
            capabilities(SANDBOX_PAIR.backoffice, "backoffice"),
        )
    first = home.popen(*QTY, skus(rows))
    record = held_by(home, "sync", with_run=True)
    with pytest.raises(PairBusy, match=f"busy: sync {record['run']} since"):
        sync.apply(home.data, SANDBOX_PAIR, the_plan)  # no wait: refused at once
    # The second starts waiting on the lock while the first is held at the gate; then the gate
    # opens and the first makes its writes (several requests) while the second still waits.
    with ThreadPoolExecutor(1) as pool:
        second = pool.submit(sync.apply, home.data, SANDBOX_PAIR, the_plan, wait=60)
        gate.unlink()
        applied = second.result(timeout=120)
    assert first.wait(timeout=60) == 0
    with Cache.open(home.data) as cache:
        (one,) = journal.runs(cache, run_id=str(record["run"]))
    # It ran once the first had finished, and the first wrote everything.
    assert one.state == "done" and one.finished is not None
    assert one.finished <= applied.run.started
    # The second found every value already there: done, "already equal", nothing written.
    assert {c.result for c in applied.run.changes} == {"done"}
    assert all("already equal" in (c.reason or "") for c in applied.run.changes)
    written_once(home, rows)


def test_a_killed_holder_frees_the_pair_at_once(home: Home, gate: Path) -> None:
    rows = q_rows(home, 3)
    slow = home.popen(*QTY, skus(rows))
    held_by(home, "sync", with_run=True)
    wait_for("a batch journaled", lambda: bool(journal_entries(home.data)))
    os.kill(slow.pid, signal.SIGKILL)
    slow.wait(timeout=10)
    with PairLock(home.data, PAIR, "test"):  # no wait: flock went with the process
        pass
    gate.unlink()
    home.ok("refresh")  # holds the pair, and settles what the killed sync left unknown
    assert "unknown" not in {e.result for e in journal_entries(home.data)}
