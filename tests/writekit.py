"""Helpers for the write-path tests: the real console script on a temporary home, the journal and
the sandbox's remote state read straight from their SQLite files, and planted discrepancies."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tui_sync.cache import Cache
from tui_sync.model import Field, Row, Side, Status
from tui_sync.sandbox import outside
from tui_sync.sandbox.state import ensure_sandbox
from tui_sync.views import iter_rows

SCRIPT = str(Path(sys.executable).parent / "tui-sync")
PAIR = "sandbox"
T = TypeVar("T")


@contextmanager
def ram_dir(fallback: Path) -> Iterator[Path]:
    """A scratch dir in RAM (/dev/shm) where there is one, else `fallback`. The sandbox commits
    every write with an fsync, as a server would; on a disk shared by the test workers those
    fsyncs, not our code, would set the pace of the fault tests."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield fallback
        return
    path = Path(tempfile.mkdtemp(prefix="tui-sync-test-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class Home:
    """A temporary config + data dir with a sandbox of a given size, driven through the CLI."""

    root: Path

    @classmethod
    def make(cls, root: Path, size: int) -> Home:
        home = cls(root)
        ensure_sandbox(home.data, size=size)
        (root / "config.toml").write_text("")  # a named --config must exist: only the sandbox
        return home

    @property
    def data(self) -> Path:
        return self.root / "data"

    def argv(self, *args: str) -> list[str]:
        base = [SCRIPT, "--config", str(self.root / "config.toml"), "--data-dir", str(self.data)]
        return [*base, *args]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        out = self.run(*args)
        assert out.returncode == 0, (args, out.returncode, out.stdout, out.stderr)
        return out

    def rows(self, statuses: Sequence[str] = ()) -> list[Row]:
        with Cache.open(self.data) as cache:
            return list(iter_rows(cache, PAIR, statuses=statuses))


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 20.0) -> T:
    """Poll until `probe` returns something (not None, not False), with a bounded deadline."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


# --- the journal, straight from the cache file (readable while another process writes) --------


@dataclass(frozen=True)
class Entry:
    run_id: str
    seq: int
    sku: str
    side: str
    item_id: str | None
    field: str | None
    before: str | None
    after: str | None
    result: str
    reason: str | None
    batch: str | None
    key: str | None
    confirmed: str | None

    @property
    def written(self) -> str | None:
        return self.confirmed if self.confirmed is not None else self.after


def _cache_conn(data: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(data / "cache.db", timeout=30)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def journal_entries(data: Path, runs: Iterable[str] | None = None) -> list[Entry]:
    if not (data / "cache.db").exists():
        return []
    conn = _cache_conn(data)
    try:
        rows = conn.execute(
            "SELECT run_id, seq, sku, side, item_id, field, before, after, result, reason, "
            "batch, key, confirmed FROM journal ORDER BY run_id, seq"
        ).fetchall()
    except sqlite3.OperationalError:  # no journal table yet
        return []
    finally:
        conn.close()
    wanted = None if runs is None else set(runs)
    return [Entry(*r) for r in rows if wanted is None or r[0] in wanted]


def run_ids(data: Path) -> list[str]:
    if not (data / "cache.db").exists():
        return []
    conn = _cache_conn(data)
    try:
        return [str(r[0]) for r in conn.execute("SELECT run_id FROM runs ORDER BY run_id")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


# --- the sandbox's remote state -----------------------------------------------------------------


def remote_items(data: Path) -> dict[tuple[str, str], tuple[str | None, ...]]:
    """(side, id) -> (quantity, price, cost) as the sandbox's two vendors hold them (text)."""
    return {(side, item_id): held for (side, item_id), held in outside.values(data).items()}


def remote_value(data: Path, side: Side, item_id: str, field: Field) -> str | None:
    return outside.value(data, side, item_id, field)


def write_calls(data: Path) -> int:
    return outside.write_calls(data)


def plant_store_quantities(data: Path, store_ids: Sequence[str], rng: random.Random) -> None:
    """Set these store quantities off (up by 1..9, so never negative), as a seller would in the
    control panel: a sync --to store then has one write per item."""
    held = outside.values(data)
    outside.set_values(
        data,
        "store",
        "quantity",
        {i: int(held[("store", i)][0] or 0) + rng.randint(1, 9) for i in store_ids},
    )


def in_sync_with_quantity(rows: Iterable[Row]) -> list[Row]:
    return [
        r
        for r in rows
        if r.status is Status.IN_SYNC
        and r.store is not None
        and r.backoffice is not None
        and r.store.quantity is not None
        and r.backoffice.quantity is not None
    ]


def zero_backoffice(data: Path, n: int) -> list[str]:
    """A broken feed: n in-sync rows with store stock read zero in the back office (bumping
    versions and the change clock as a vendor would). Returns their SKUs."""
    with Cache.open(data) as cache:
        rows = [
            r
            for r in iter_rows(cache, PAIR, statuses=["in_sync"])
            if r.store and r.backoffice and r.store.quantity and not r.store.is_base
        ][:n]
    assert len(rows) == n, (len(rows), n)
    outside.set_values(
        data, "backoffice", "quantity", {r.backoffice.id: 0 for r in rows if r.backoffice}
    )
    return [r.sku for r in rows]


@contextmanager
def refreshed_home(tmp_path: Path, size: int) -> Iterator[Home]:
    """A Home with a sandbox of `size` SKUs, refreshed once through the CLI."""
    with ram_dir(tmp_path) as root:
        home = Home.make(root, size)
        home.ok("refresh")
        yield home


def q_rows(home: Home, n: int) -> list[Row]:
    """n rows whose store quantity is off, the back office's being >= 0: one write each."""
    rows = [
        r
        for r in home.rows(["out_of_sync"])
        if r.cells["Q"] == "N" and r.backoffice and (r.backoffice.quantity or 0) >= 0
    ]
    assert len(rows) >= n
    return rows[:n]
