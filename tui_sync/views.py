"""Reading reconciled rows: the views of the grid, their counts, and rows for `diff`.

A view is a WHERE clause over `rows`. `ViewRows` holds only the positions of its rows (a range for
the unfiltered All view, else a compact int array built by one indexed query) and reads the rows
it is asked for a page at a time, so the grid costs the same for 2,000 rows or 1,000,000.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tui_sync.cache import ITEM_WIDTH, Cache, item_from_row, item_select
from tui_sync.model import CODES, Cell, Row, Status


@dataclass(frozen=True, slots=True)
class View:
    key: str
    label: str
    short: str  # for narrow terminals
    where: str  # SQL over the rows table (alias r)
    # The index that serves `where` (a partial index for the code views): named, because
    # SQLite's planner, without statistics, would rather scan the whole table in pos order.
    index: str | None = None


VIEWS: tuple[View, ...] = (
    View("all", "All", "All", "1"),
    View("out_of_sync", "Out of sync", "Out", "r.status = 'out_of_sync'", "rows_by_status"),
    View("price", "Price out of sync", "Price", "r.c_p = 'N'", "rows_price_out"),
    View(
        "quantity",
        "Quantity out of sync",
        "Qty",
        "'N' IN (r.c_q, r.c_qp, r.c_qn)",
        "rows_quantity_out",
    ),
    View("in_orders", "In orders", "Ord", "r.status = 'in_orders'", "rows_by_status"),
    View("base", "Base", "Base", "r.status = 'base'", "rows_by_status"),
    View(
        "unmatched",
        "Unmatched",
        "Unm",
        "r.status IN ('store_only', 'backoffice_only')",
        "rows_by_status",
    ),
)
VIEW_BY_KEY = {v.key: v for v in VIEWS}

_CODE_COLUMNS = ", ".join(f"r.c_{c.lower()}" for c in CODES)
_ROW_SELECT = (
    f"SELECT r.pos, r.key, r.sku, r.name, r.status, r.pending, {_CODE_COLUMNS}, "
    f"{item_select('s')}, {item_select('b')} "
    "FROM rows AS r "
    "LEFT JOIN items AS s ON s.rowid = r.store_rid "
    "LEFT JOIN items AS b ON b.rowid = r.backoffice_rid "
)
_FIXED = 6 + len(CODES)


def _row(record: Sequence[object]) -> Row:
    cells: dict[str, Cell] = {code: _cell(record[6 + i]) for i, code in enumerate(CODES)}
    return Row(
        pos=int(str(record[0])),
        key=str(record[1]),
        sku=str(record[2]),
        name=str(record[3]),
        status=Status(str(record[4])),
        cells=cells,
        store=item_from_row(record[_FIXED : _FIXED + ITEM_WIDTH]),
        backoffice=item_from_row(record[_FIXED + ITEM_WIDTH : _FIXED + 2 * ITEM_WIDTH]),
        pending_quantity=int(str(record[5])),
    )


def _cell(value: object) -> Cell:
    if value == "S":
        return "S"
    if value == "N":
        return "N"
    return "-"


def _filter(text: str) -> tuple[str, list[object]]:
    """The `/` filter: a case-insensitive substring of the SKU or the name."""
    text = text.strip()
    if not text:
        return "", []
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = f"%{escaped}%"
    return " AND (r.sku LIKE ? ESCAPE '\\' OR r.name LIKE ? ESCAPE '\\')", [like, like]


def filter_sql(text: str) -> tuple[str, list[object]]:
    """The `/` filter as SQL to AND onto a WHERE over `rows AS r` (empty for no filter)."""
    return _filter(text)


def row_count(conn: sqlite3.Connection, pair: str) -> int:
    """Rows of a pair. Reconcile numbers them 0..n-1 and a rescore keeps `pos`, so the last
    position says it in one index probe, where count(*) would read every row (1M: ~160 ms)."""
    last = conn.execute("SELECT max(pos) FROM rows WHERE pair = ?", (pair,)).fetchone()[0]
    return 0 if last is None else int(last) + 1


def view_counts(cache: Cache, pair: str, text: str = "") -> dict[str, int]:
    """Rows per view, in one pass over the pair's rows."""
    extra, args = _filter(text)
    sums = ", ".join(f"COALESCE(SUM({v.where}), 0)" for v in VIEWS)
    record = cache.conn.execute(
        f"SELECT {sums} FROM rows AS r WHERE r.pair = ?{extra}", (pair, *args)
    ).fetchone()
    return {v.key: int(n) for v, n in zip(VIEWS, record, strict=True)}


class ViewRows:
    """The rows of one view of one pair, optionally filtered; satisfies the grid's GridSource."""

    def __init__(
        self,
        cache: Cache,
        pair: str,
        view: View = VIEWS[0],
        text: str = "",
        positions: Sequence[int] | None = None,
    ) -> None:
        """The view's rows; with `positions` (ascending), exactly those rows (the Selected
        view, whose rows are the grid's selection rather than a WHERE clause)."""
        self.cache = cache
        self.pair = pair
        self.view = view
        self.text = text
        self._capacity = row_count(cache.conn, pair)
        extra, args = _filter(text)
        self._positions: Sequence[int]
        if positions is not None:
            self._positions = positions
            self._capacity = max(self._capacity, positions[-1] + 1 if positions else 0)
        elif view.key == "all" and not extra:
            self._positions = range(self._capacity)
        else:
            # With a filter, the name must be read anyway: then the index is the planner's call.
            hint = f" INDEXED BY {view.index}" if view.index and not extra else ""
            cur = cache.conn.execute(
                f"SELECT r.pos FROM rows AS r{hint} WHERE r.pair = ? AND {view.where}{extra} "
                "ORDER BY r.pos",
                (pair, *args),
            )
            found = array("q")
            while batch := cur.fetchmany(10_000):
                found.extend(p for (p,) in batch)
            self._positions = found

    def __len__(self) -> int:
        return len(self._positions)

    @property
    def capacity(self) -> int:
        return self._capacity

    def positions(self) -> Sequence[int]:
        return self._positions

    def fetch(self, start: int, stop: int) -> list[Row]:
        wanted = self._positions[max(start, 0) : max(stop, 0)]
        return rows_at(self.cache, self.pair, wanted)


def rows_at(cache: Cache, pair: str, positions: Sequence[int]) -> list[Row]:
    """Rows at these positions, in the order given."""
    if not positions:
        return []
    first, last = positions[0], positions[-1]
    if last - first == len(positions) - 1:  # contiguous: one range scan of the primary key
        cur = cache.conn.execute(
            _ROW_SELECT + "WHERE r.pair = ? AND r.pos BETWEEN ? AND ? ORDER BY r.pos",
            (pair, first, last),
        )
        return [_row(rec) for rec in cur]
    by_pos: dict[int, Row] = {}
    for start in range(0, len(positions), 500):
        part = ", ".join(str(int(p)) for p in positions[start : start + 500])
        cur = cache.conn.execute(_ROW_SELECT + f"WHERE r.pair = ? AND r.pos IN ({part})", (pair,))
        for rec in cur:
            row = _row(rec)
            by_pos[row.pos] = row
    return [by_pos[p] for p in positions if p in by_pos]


def stream_rows(data_dir: Path, pair: str, positions: Sequence[int]) -> Iterator[Row]:
    """Rows at these positions, a page at a time, on a connection of the caller's thread: a
    plan over a select-all of 1M rows never holds them all."""
    with Cache.open(data_dir) as cache:
        for start in range(0, len(positions), 1000):
            yield from rows_at(cache, pair, positions[start : start + 1000])


def keys_at(data_dir: Path, pair: str, positions: Sequence[int]) -> list[str]:
    """The identity (key) of the rows at these positions, on the caller's thread."""
    keys: list[str] = []
    with Cache.open(data_dir) as cache:
        for start in range(0, len(positions), 500):
            part = ", ".join(str(int(p)) for p in positions[start : start + 500])
            keys.extend(
                str(k)
                for (k,) in cache.conn.execute(
                    f"SELECT key FROM rows WHERE pair = ? AND pos IN ({part})", (pair,)
                )
            )
    return keys


def positions_of(data_dir: Path, pair: str, keys: Sequence[str]) -> list[int]:
    """Where rows of these keys are now (a key that is gone has no position)."""
    found: list[int] = []
    with Cache.open(data_dir) as cache:
        for start in range(0, len(keys), 500):
            part = list(keys[start : start + 500])
            marks = ", ".join("?" * len(part))
            found.extend(
                int(p)
                for (p,) in cache.conn.execute(
                    f"SELECT pos FROM rows WHERE pair = ? AND key IN ({marks})", (pair, *part)
                )
            )
    return sorted(found)


def iter_rows(
    cache: Cache, pair: str, statuses: Sequence[str] = (), skus: Sequence[str] = ()
) -> Iterator[Row]:
    """Every row of a pair in SKU order (streamed), optionally only some statuses or SKUs."""
    where, args = "WHERE r.pair = ?", [pair]
    if statuses:
        where += f" AND r.status IN ({', '.join('?' * len(statuses))})"
        args.extend(statuses)
    if skus:
        keys = [s.strip().upper() for s in skus]
        where += f" AND upper(r.sku) IN ({', '.join('?' * len(keys))})"
        args.extend(keys)
    cur = cache.conn.execute(_ROW_SELECT + where + " ORDER BY r.pos", args)
    while batch := cur.fetchmany(1000):
        yield from (_row(rec) for rec in batch)


def row_of(data_dir: Path, pair: str, sku: str, key: str = "") -> Row | None:
    """One row by its key (indexed), else the first of its SKU (a scan: call it off the UI
    thread), on a connection of the caller's thread."""
    with Cache.open(data_dir) as cache:
        if key:
            found = cache.conn.execute(
                _ROW_SELECT + "WHERE r.pair = ? AND r.key = ?", (pair, key)
            ).fetchone()
            if found is not None:
                return _row(found)
        found = cache.conn.execute(
            _ROW_SELECT + "WHERE r.pair = ? AND r.sku = ? ORDER BY r.pos LIMIT 1", (pair, sku)
        ).fetchone()
        return None if found is None else _row(found)
