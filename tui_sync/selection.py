"""The grid's selection at any size: masks built off the UI thread, and what a refresh changed.

The grid keeps its selection as a bytearray indexed by row position (1 = selected). The bulk
actions of the console (`,` rows like the cursor row, `i` invert within the view, `v` a range)
are built here, in a worker thread, as a mask of the same shape; the grid merges it in one C-speed
integer operation, so even a million rows never cost the UI thread a Python loop.

A refresh compares what the selected rows were with what they are now: their keys and a
fingerprint (status, cells, both sides' values) go to a small SQLite file beside the cache before
the refresh, and one join after it says which rows are gone, now in sync or changed, and where
the others are now. Nothing of the size of the selection is held in memory.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tui_sync.cache import CACHE_FILE, Cache
from tui_sync.model import CODES, Row
from tui_sync.views import View, filter_sql

# --- masks ------------------------------------------------------------------------------------


def mask_of(positions: Sequence[int], capacity: int) -> bytearray:
    """A selection mask holding exactly these positions."""
    if isinstance(positions, range) and positions.step == 1 and positions.start >= 0:
        mask = bytearray(max(capacity, positions.stop))
        mask[positions.start : positions.stop] = b"\x01" * len(positions)
        return mask
    mask = bytearray(max(capacity, (max(positions) + 1) if len(positions) else 0))
    for pos in positions:  # ~70 ms a million, in a worker thread
        mask[pos] = 1
    return mask


def like_condition(row: Row) -> tuple[str, list[object]]:
    """Rows "like" this one: the same status and the same set of N codes (an out-of-sync row
    whose quantity alone differs is like another whose quantity alone differs, not like one
    whose price differs too). SQL over the rows table (alias r), served by `rows_by_status`."""
    codes = " AND ".join(f"(r.c_{code.lower()} IS 'N') = ?" for code in CODES)
    flags: list[object] = [int(row.cells[code] == "N") for code in CODES]
    return f"r.status = ? AND {codes}", [row.status.value, *flags]


def like_description(row: Row) -> str:
    codes = " ".join(code for code in CODES if row.cells[code] == "N")
    return f"{row.status.label}" + (f", N: {codes}" if codes else ", no N code")


def like_mask(
    data_dir: Path, pair: str, view: View, text: str, row: Row, capacity: int
) -> tuple[bytearray, int]:
    """The rows of the view (and filter) like `row`, as a mask, and how many there are: one
    query over the status index on the worker's own connection."""
    like, args = like_condition(row)
    extra, extra_args = filter_sql(text)
    found = 0
    mask = bytearray(capacity)
    with Cache.open(data_dir) as cache:
        cur = cache.conn.execute(
            f"SELECT r.pos FROM rows AS r INDEXED BY rows_by_status WHERE r.pair = ? AND {like} "
            f"AND ({view.where}){extra}",
            (pair, *args, *extra_args),
        )
        while batch := cur.fetchmany(10_000):
            for (pos,) in batch:
                if pos >= len(mask):
                    mask.extend(bytes(pos + 1 - len(mask)))
                mask[pos] = 1
            found += len(batch)
    return mask, found


# --- what a refresh changed among the selected rows -------------------------------------------

_VALUES = ("quantity", "price", "cost")
_FINGERPRINT = " || '|' || ".join(
    [
        "r.status",
        *(f"coalesce(r.c_{code.lower()}, '-')" for code in CODES),
        *(f"coalesce({side}.{value}, '~')" for side in ("s", "b") for value in _VALUES),
    ]
)


@dataclass(frozen=True, slots=True)
class SelectionNews:
    """The selected rows after a refresh: where they are now, and what happened to them."""

    mask: bytearray  # the selection now, as the grid keeps it
    before: int
    now_in_sync: int
    changed: int  # changed otherwise (values, cells or status), still there
    gone: int

    def line(self) -> str:
        """What happened to the selected rows, in a few words."""
        if not (self.now_in_sync or self.changed or self.gone):
            return f"{self.before:,} unchanged"
        return f"{self.now_in_sync:,} now in sync, {self.changed:,} changed, {self.gone:,} gone"


def _connect(snapshot: Path, data_dir: Path) -> sqlite3.Connection:
    # The snapshot is the main database (the only one written); the cache is only read.
    conn = sqlite3.connect(snapshot, isolation_level=None)
    conn.execute("ATTACH DATABASE ? AS c", (str(data_dir / CACHE_FILE),))
    return conn


def take_snapshot(data_dir: Path, pair: str, positions: Sequence[int]) -> Path:
    """Keys and fingerprints of the rows at these positions, in a file beside the cache (the
    caller removes it, `compare_snapshot` does)."""
    fd, name = tempfile.mkstemp(prefix=".selection-", suffix=".db", dir=data_dir)
    os.close(fd)
    path = Path(name)
    try:
        conn = _connect(path, data_dir)
        try:
            conn.execute("CREATE TABLE sel (key TEXT PRIMARY KEY, status TEXT, fp TEXT)")
            conn.execute("CREATE TEMP TABLE wanted (pos INTEGER PRIMARY KEY)")
            conn.execute("BEGIN")
            conn.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", ((p,) for p in positions))
            # One join in position order: a range scan of the rows, not a query per 500.
            conn.execute(
                f"INSERT OR IGNORE INTO sel SELECT r.key, r.status, {_FINGERPRINT} "
                f"FROM temp.wanted AS w JOIN c.rows AS r ON r.pair = ? AND r.pos = w.pos "
                "LEFT JOIN c.items AS s ON s.rowid = r.store_rid "
                "LEFT JOIN c.items AS b ON b.rowid = r.backoffice_rid",
                (pair,),
            )
            conn.execute("COMMIT")
        finally:
            conn.close()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def compare_snapshot(data_dir: Path, pair: str, snapshot: Path) -> SelectionNews:
    """What became of the snapshot's rows; removes the snapshot file."""
    try:
        conn = _connect(snapshot, data_dir)
        try:
            (before,) = conn.execute("SELECT count(*) FROM sel").fetchone()
            (last,) = conn.execute("SELECT max(pos) FROM c.rows WHERE pair = ?", (pair,)).fetchone()
            mask = bytearray(0 if last is None else int(last) + 1)
            # One pass: where each row is now, and whether it is now in sync or changed.
            cur = conn.execute(
                "SELECT r.pos, r.status = 'in_sync' AND sel.status != 'in_sync', "
                f"sel.fp IS NOT {_FINGERPRINT} "
                "FROM sel JOIN c.rows AS r ON r.pair = ? AND r.key = sel.key "
                "LEFT JOIN c.items AS s ON s.rowid = r.store_rid "
                "LEFT JOIN c.items AS b ON b.rowid = r.backoffice_rid",
                (pair,),
            )
            kept, now_in_sync, changed = 0, 0, 0
            while batch := cur.fetchmany(10_000):
                for pos, synced, differs in batch:
                    mask[pos] = 1
                    if synced:
                        now_in_sync += 1
                    elif differs:
                        changed += 1
                kept += len(batch)
        finally:
            conn.close()
    finally:
        with contextlib.suppress(OSError):
            snapshot.unlink()
    return SelectionNews(mask, int(before), int(now_in_sync), int(changed), int(before) - kept)
