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
from itertools import compress, pairwise
from pathlib import Path

from tui_sync.cache import ITEM_WIDTH, Cache, item_from_row, item_select
from tui_sync.model import CODES, Cell, Intent, Row, Status


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


@dataclass(frozen=True, slots=True)
class Sort:
    """An order of the rows, in its natural direction (biggest gap first); ties in SKU order.

    `parts` are (WHERE, ORDER BY, index) over the rows table (alias r), read one after another:
    each is one scan of an index whose order is the sort's, so no row is read or sorted."""

    key: str
    label: str
    parts: tuple[tuple[str, str, str], ...] = ()  # () : SKU order, the positions themselves


SORTS: tuple[Sort, ...] = (
    Sort("sku", "SKU"),
    Sort("name", "name", (("1", "r.name COLLATE NOCASE, r.pos", "rows_by_name"),)),
    Sort("q_gap", "quantity gap", (("1", "r.q_gap DESC, r.pos", "rows_by_q_gap"),)),
    Sort("p_gap", "price gap (%)", (("1", "r.p_gap DESC, r.pos", "rows_by_p_gap"),)),
    Sort("risk", "value at risk", (("1", "r.risk DESC, r.pos", "rows_by_risk"),)),
    # Statuses in precedence order (as the help lists them), each from the status index.
    Sort(
        "status",
        "status",
        tuple((f"r.status = '{s.value}'", "r.pos", "rows_by_status") for s in Status),
    ),
)
SORT_BY_KEY = {s.key: s for s in SORTS}
SKU_ORDER = SORTS[0]


@dataclass(frozen=True, slots=True)
class Narrowing:
    """A further condition on a view's rows (a line of the breakdown): SQL over rows (alias r)."""

    label: str
    where: str
    args: tuple[object, ...] = ()

    def within(self, outer: Narrowing | None) -> Narrowing:
        """This narrowing of rows already narrowed by `outer` (a breakdown of a breakdown)."""
        if outer is None:
            return self
        return Narrowing(
            f"{outer.label}, {self.label}",
            f"({outer.where}) AND ({self.where})",
            (*outer.args, *self.args),
        )


_CODE_COLUMNS = ", ".join(f"r.c_{c.lower()}" for c in CODES)
_ROW_SELECT = (
    f"SELECT r.pos, r.key, r.sku, r.name, r.status, r.pending, {_CODE_COLUMNS}, "
    f"{item_select('s')}, {item_select('b')} "
    "FROM rows AS r "
    "LEFT JOIN items AS s ON s.rowid = r.store_rid "
    "LEFT JOIN items AS b ON b.rowid = r.backoffice_rid "
)
_FIXED = 6 + len(CODES)


def _row(record: Sequence[object], intended: Sequence[Intent] = ()) -> Row:
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
        intended=tuple(intended),
    )


def _rows(cache: Cache, pair: str, records: Sequence[Sequence[object]]) -> list[Row]:
    """Rows from their records, each with its intended differences (one lookup per page, and
    none at all while the pair has no marks)."""
    if not records or not cache.has_intents(pair):
        return [_row(rec) for rec in records]
    marks = cache.intents(pair, [str(rec[1]) for rec in records])
    return [_row(rec, marks.get(str(rec[1]), ())) for rec in records]


def _cell(value: object) -> Cell:
    if value == "S":
        return "S"
    if value == "N":
        return "N"
    if value == "I":
        return "I"
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


def _positions(cur: sqlite3.Cursor, into: array[int] | None = None) -> array[int]:
    found = into if into is not None else array("q")
    while batch := cur.fetchmany(10_000):
        found.extend(p for (p,) in batch)
    return found


def view_positions(
    cache: Cache,
    pair: str,
    view: View = VIEWS[0],
    text: str = "",
    narrow: Narrowing | None = None,
) -> Sequence[int]:
    """Positions of a view's rows (filtered, narrowed), ascending: one indexed query."""
    extra, args = _filter(text)
    if narrow is not None:
        extra += f" AND ({narrow.where})"
        args.extend(narrow.args)
    if view.key == "all" and not extra:
        return range(row_count(cache.conn, pair))
    # With a filter, the name must be read anyway: then the index is the planner's call.
    hint = f" INDEXED BY {view.index}" if view.index and not extra else ""
    return _positions(
        cache.conn.execute(
            f"SELECT r.pos FROM rows AS r{hint} WHERE r.pair = ? AND {view.where}{extra} "
            "ORDER BY r.pos",
            (pair, *args),
        )
    )


def sort_order(cache: Cache, pair: str, sort: Sort) -> array[int]:
    """Every position of a pair in a sort's order: index scans only (1M rows: ~0.3 s)."""
    found: array[int] = array("q")
    for where, order, index in sort.parts:
        cur = cache.conn.execute(
            f"SELECT r.pos FROM rows AS r INDEXED BY {index} WHERE r.pair = ? AND {where} "
            f"ORDER BY {order}",
            (pair,),
        )
        _positions(cur, found)
    return found


def view_order(
    cache: Cache,
    pair: str,
    view: View = VIEWS[0],
    text: str = "",
    *,
    narrow: Narrowing | None = None,
    selected: Sequence[int] | None = None,
    sort: Sort = SKU_ORDER,
    reverse: bool = False,
) -> Sequence[int]:
    """The positions of a view's rows in a sort's order (reversed: exactly backwards). With
    `selected` (ascending), the view is exactly those rows (the Selected view), narrowed.

    A sort other than SKU reads the pair's whole order from its index and keeps the view's
    rows, by a mask of positions: the cost of one index scan, whatever the view."""
    members: Sequence[int]
    if selected is None:
        members = view_positions(cache, pair, view, text, narrow)
    elif narrow is None:
        members = selected
    else:
        narrowed = view_positions(cache, pair, VIEWS[0], "", narrow)
        members = array("q", compress(selected, _mask(narrowed, selected)))
    if sort.parts:
        order = sort_order(cache, pair, sort)
        if not (isinstance(members, range) and len(members) >= len(order)):
            order = array("q", compress(order, _mask(members, order)))
        members = order
    if not reverse:
        return members
    if isinstance(members, range):
        return members[::-1]
    backwards = array("q", members)
    backwards.reverse()
    return backwards


def index_in(positions: Sequence[int], pos: int) -> int | None:
    """Where a position is in a view's order (a range answers at once, an array in C)."""
    try:
        return positions.index(pos)
    except ValueError:
        return None


def _mask(members: Sequence[int], wanted: Sequence[int]) -> Iterator[int]:
    """For each of `wanted`, whether `members` holds it (C-speed: a bytearray by position)."""
    size = max(max(members, default=-1), max(wanted, default=-1)) + 1
    bits = bytearray(size)
    if isinstance(members, range) and members.step == 1:
        bits[members.start : members.stop] = b"\x01" * len(members)
    else:
        for pos in members:
            bits[pos] = 1
    return map(bits.__getitem__, wanted)


class ViewRows:
    """The rows of one view of one pair, optionally filtered; satisfies the grid's GridSource."""

    def __init__(
        self,
        cache: Cache,
        pair: str,
        view: View = VIEWS[0],
        text: str = "",
        positions: Sequence[int] | None = None,
        *,
        sort: Sort = SKU_ORDER,
        reverse: bool = False,
        narrow: Narrowing | None = None,
    ) -> None:
        """The view's rows; with `positions`, exactly those rows in that order (the Selected
        view, whose rows are the grid's selection rather than a WHERE clause, or an order
        `view_order` computed off the UI thread: `sort`, `reverse`, `narrow` then say what it
        is, for the status line)."""
        self.cache = cache
        self.pair = pair
        self.view = view
        self.text = text
        self.sort = sort
        self.reverse = reverse
        self.narrow = narrow
        self._capacity = row_count(cache.conn, pair)
        self._positions: Sequence[int]
        if positions is not None:
            self._positions = positions
            if positions and not isinstance(positions, range):
                # A selection may still hold positions of rows a refresh took away.
                self._capacity = max(self._capacity, max(positions[0], positions[-1]) + 1)
        else:
            self._positions = view_order(
                cache, pair, view, text, narrow=narrow, sort=sort, reverse=reverse
            )

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
    if last - first == len(positions) - 1 and all(  # contiguous: one range scan of the key
        b == a + 1 for a, b in pairwise(positions)
    ):
        cur = cache.conn.execute(
            _ROW_SELECT + "WHERE r.pair = ? AND r.pos BETWEEN ? AND ? ORDER BY r.pos",
            (pair, first, last),
        )
        return _rows(cache, pair, cur.fetchall())
    by_pos: dict[int, Row] = {}
    for start in range(0, len(positions), 500):
        part = ", ".join(str(int(p)) for p in positions[start : start + 500])
        cur = cache.conn.execute(_ROW_SELECT + f"WHERE r.pair = ? AND r.pos IN ({part})", (pair,))
        for row in _rows(cache, pair, cur.fetchall()):
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
        yield from _rows(cache, pair, batch)


def row_of(data_dir: Path, pair: str, sku: str, key: str = "") -> Row | None:
    """One row by its key (indexed), else the first of its SKU (a scan: call it off the UI
    thread), on a connection of the caller's thread."""
    with Cache.open(data_dir) as cache:
        if key:
            found = cache.conn.execute(
                _ROW_SELECT + "WHERE r.pair = ? AND r.key = ?", (pair, key)
            ).fetchone()
            if found is not None:
                return _rows(cache, pair, [found])[0]
        found = cache.conn.execute(
            _ROW_SELECT + "WHERE r.pair = ? AND r.sku = ? ORDER BY r.pos LIMIT 1", (pair, sku)
        ).fetchone()
        return None if found is None else _rows(cache, pair, [found])[0]
