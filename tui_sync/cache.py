"""The local SQLite cache: items of both sides, pending orders, manual mappings, reconciled rows,
runs and their journal. One file per data dir, shared by every pair (a `pair` column everywhere).

Each thread opens its own `Cache` (sqlite3 connections are not shared across threads). WAL mode
lets the TUI read the last reconciled rows while a worker refreshes or syncs.

Refresh replaces a side's items in one transaction, so a failed refresh leaves the previous items
intact; runs and journal rows are only ever appended or settled, never deleted.
"""

from __future__ import annotations

import os
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from tui_sync import money
from tui_sync.guards import is_short
from tui_sync.model import Field, Intent, Item, PendingLine, Side
from tui_sync.money import Number

T = TypeVar("T")

CACHE_FILE = "cache.db"
# Money and quantities are kept exactly as TEXT and, for comparisons in SQL, as integer
# millionths (money.py); a value with more places is compared exactly by `money_gap_over`.


class CacheError(Exception):
    """The cache cannot be used (corrupt, newer schema, unwritable). One line, names the file."""


def _schema_v1(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE items (
            pair TEXT NOT NULL, side TEXT NOT NULL, id TEXT NOT NULL,
            sku TEXT, sku_key TEXT NOT NULL,
            name TEXT NOT NULL, name_key TEXT NOT NULL, name_bare TEXT NOT NULL,
            brand TEXT, quantity INTEGER,
            price TEXT, price_u INTEGER, cost TEXT, cost_u INTEGER,
            parent_id TEXT, is_base INTEGER NOT NULL DEFAULT 0,
            options TEXT, variant_sig TEXT, version TEXT,
            UNIQUE (pair, side, id)
        );
        CREATE INDEX items_by_key ON items (pair, side, sku_key);
        CREATE INDEX items_by_parent ON items (pair, side, parent_id) WHERE parent_id IS NOT NULL;
        CREATE TABLE pending (
            pair TEXT NOT NULL, order_id TEXT NOT NULL, sku_key TEXT NOT NULL,
            quantity INTEGER NOT NULL, status TEXT NOT NULL
        );
        CREATE INDEX pending_by_pair ON pending (pair, sku_key);
        CREATE TABLE mappings (
            pair TEXT NOT NULL, store_key TEXT NOT NULL, backoffice_key TEXT NOT NULL,
            PRIMARY KEY (pair, store_key)
        );
        CREATE TABLE refreshes (
            pair TEXT PRIMARY KEY, refreshed_at TEXT NOT NULL,
            store_items INTEGER NOT NULL, backoffice_items INTEGER NOT NULL
        );
        CREATE TABLE rows (
            pair TEXT NOT NULL, pos INTEGER NOT NULL, key TEXT NOT NULL,
            sku TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
            store_rid INTEGER, backoffice_rid INTEGER,
            -- sides the row's key exists on (1 store, 2 back office, 3 both): a duplicate's
            -- extra item has no partner, yet its key is matched, so it is not "store only".
            sides INTEGER NOT NULL, duplicate INTEGER NOT NULL, pending INTEGER NOT NULL,
            c_n TEXT, c_ns TEXT, c_iv TEXT, c_b TEXT, c_q TEXT, c_qp TEXT, c_qn TEXT,
            c_p TEXT, c_c TEXT,
            PRIMARY KEY (pair, pos)
        ) WITHOUT ROWID;
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY, pair TEXT NOT NULL, kind TEXT NOT NULL,
            target TEXT, fields TEXT, started TEXT NOT NULL, finished TEXT,
            state TEXT NOT NULL, undoes TEXT
        );
        CREATE TABLE journal (
            run_id TEXT NOT NULL, seq INTEGER NOT NULL, sku TEXT NOT NULL,
            side TEXT NOT NULL, item_id TEXT, field TEXT,
            before TEXT, after TEXT, result TEXT NOT NULL, reason TEXT, at TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        );
        """
    )


def _schema_v2(db: sqlite_utils.Database) -> None:
    """Exact quantities and money, stable row identity, staged refresh, a journal that knows its
    batches. Items, rows and pending are a copy of the remote sides: rebuilt by the next refresh;
    mappings, runs and the journal are kept."""
    db.executescript(
        """
        DROP TABLE items; DROP TABLE rows; DROP TABLE pending; DROP TABLE refreshes;
        CREATE TABLE items (
            pair TEXT NOT NULL, side TEXT NOT NULL, id TEXT NOT NULL,
            sku TEXT, sku_key TEXT NOT NULL,
            name TEXT NOT NULL, name_key TEXT NOT NULL, name_bare TEXT NOT NULL,
            brand TEXT, quantity TEXT, quantity_u INTEGER,
            price TEXT, price_u INTEGER, cost TEXT, cost_u INTEGER,
            -- 0 when a value has more than six places: compared exactly, not in millionths
            exact INTEGER NOT NULL DEFAULT 1,
            parent_id TEXT, is_base INTEGER NOT NULL DEFAULT 0,
            options TEXT, variant_sig TEXT, version TEXT, ref TEXT,
            UNIQUE (pair, side, id)
        );
        CREATE INDEX items_by_key ON items (pair, side, sku_key);
        CREATE INDEX items_by_parent ON items (pair, side, parent_id) WHERE parent_id IS NOT NULL;
        CREATE TABLE stage_items AS SELECT * FROM items WHERE 0;
        CREATE INDEX stage_by_side ON stage_items (pair, side);
        CREATE TABLE pending (
            pair TEXT NOT NULL, order_id TEXT NOT NULL, sku_key TEXT NOT NULL,
            quantity INTEGER NOT NULL, status TEXT NOT NULL
        );
        CREATE INDEX pending_by_pair ON pending (pair, sku_key);
        CREATE TABLE refreshes (
            pair TEXT PRIMARY KEY, refreshed_at TEXT NOT NULL,
            store_items INTEGER NOT NULL, backoffice_items INTEGER NOT NULL,
            store_mark TEXT, backoffice_mark TEXT, since_full INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE rows (
            pair TEXT NOT NULL, pos INTEGER NOT NULL, key TEXT NOT NULL,
            sku TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
            store_rid INTEGER, backoffice_rid INTEGER,
            sides INTEGER NOT NULL, duplicate INTEGER NOT NULL, pending INTEGER NOT NULL,
            c_n TEXT, c_ns TEXT, c_iv TEXT, c_b TEXT, c_q TEXT, c_qp TEXT, c_qn TEXT,
            c_p TEXT, c_c TEXT,
            PRIMARY KEY (pair, pos)
        ) WITHOUT ROWID;
        -- a row's identity is its key: a selection, a plan or a rescore finds it by key
        CREATE UNIQUE INDEX rows_by_key ON rows (pair, key);
        -- the views' WHERE clauses over status and codes, without a scan of every row
        CREATE INDEX rows_by_status ON rows (pair, status, pos);
        CREATE INDEX rows_price_out ON rows (pair, pos) WHERE c_p = 'N';
        CREATE INDEX rows_quantity_out ON rows (pair, pos) WHERE 'N' IN (c_q, c_qp, c_qn);
        ALTER TABLE journal ADD COLUMN batch TEXT;
        ALTER TABLE journal ADD COLUMN key TEXT;
        ALTER TABLE journal ADD COLUMN confirmed TEXT;
        CREATE INDEX journal_unknown ON journal (result) WHERE result = 'unknown';
        """
    )


def _schema_v3(db: sqlite_utils.Database) -> None:
    """The guards' memory (guards.py): each side's item count of the refresh before, so a short
    read shows; and the plans `sync --dry-run` showed, so `--plan-hash` can say what changed."""
    db.executescript(
        """
        ALTER TABLE refreshes ADD COLUMN prev_store_items INTEGER;
        ALTER TABLE refreshes ADD COLUMN prev_backoffice_items INTEGER;
        CREATE TABLE shown_plans (
            pair TEXT NOT NULL, hash TEXT NOT NULL, shown_at TEXT NOT NULL, lines TEXT NOT NULL,
            PRIMARY KEY (pair, hash)
        );
        """
    )


# Migrations in order: MIGRATIONS[n] brings a cache from schema n to n + 1.
def _schema_v4(db: sqlite_utils.Database) -> None:
    """Rows by the items they pair: an incremental refresh rescores the rows of the items that
    changed, found by these instead of a scan of every row."""
    db.executescript(
        """
        CREATE INDEX rows_by_store_item ON rows (pair, store_rid);
        CREATE INDEX rows_by_backoffice_item ON rows (pair, backoffice_rid);
        """
    )


# Sizes of gap the breakdown counts rows by: a row's size is 1 + the bounds its gap reaches,
# 0 when it has no gap (or no value to compare).
QUANTITY_SIZES = ("under 10", "10 to 99", "100 or more")
QUANTITY_BOUNDS = (10, 100)  # units
PRICE_SIZES = ("under 1 %", "1 to 10 %", "10 to 50 %", "50 % or more")
PRICE_BOUNDS = (1, 10, 50)  # % of the back office's price


def _size(gap: str, bounds: Sequence[int], scale: int = 1) -> str:
    steps = " ".join(f"WHEN {gap} < {b * scale} THEN {i + 1}" for i, b in enumerate(bounds))
    return f"CASE WHEN {gap} IS NULL OR {gap} = 0 THEN 0 {steps} ELSE {len(bounds) + 1} END"


_QUANTITY_GAP = "abs(sq - bq)"  # in millionths of a unit
# in % of the back office's price (a gap from a zero price counts as the biggest)
_PRICE_GAP = (
    "(CASE WHEN sp = bp THEN 0.0 WHEN bp = 0 THEN 1e300 ELSE abs(sp - bp) * 100.0 / abs(bp) END)"
)

# Each row's sort keys and sizes of gap, stored by reconcile's scoring and indexed, so that
# sorting a view is one index scan and its breakdown one scan of an index, rather than reads
# of every row and its items. Written over the paired items' values in millionths (sq/bq
# quantities, sp/bp prices, sc/bc costs; NULL where a side lacks one): floats are fine here,
# they only order and count rows and are never shown or written.
ROW_TRIAGE_VALUES = {
    "q_gap": _QUANTITY_GAP,
    "p_gap": _PRICE_GAP,
    # value at risk: the quantity gap at cost, or at price where neither side has a cost
    "risk": f"{_QUANTITY_GAP} / 1e6 * (COALESCE(bc, sc, bp, sp) / 1e6)",
    "q_size": _size(_QUANTITY_GAP, QUANTITY_BOUNDS, 1_000_000),
    "p_size": _size(_PRICE_GAP, PRICE_BOUNDS),
}

# Their indexes. The sort indexes put the biggest first and ties in SKU order: each is the
# order of its sort as it stands. The triage index holds what a view's WHERE and its breakdown
# read, so a breakdown scans it alone, in its order (no sort). A full reconcile drops and
# rebuilds them around its insert (4x cheaper than keeping them up to date row by row).
ROW_TRIAGE_INDEXES = {
    "rows_by_name": "rows (pair, name COLLATE NOCASE, pos)",
    "rows_by_q_gap": "rows (pair, q_gap DESC, pos)",
    "rows_by_p_gap": "rows (pair, p_gap DESC, pos)",
    "rows_by_risk": "rows (pair, risk DESC, pos)",
    "rows_triage": "rows (pair, status, c_n, c_ns, c_iv, c_b, c_q, c_qp, c_qn, c_p, c_c, "
    "q_size, p_size, brand)",
}


def _schema_v5(db: sqlite_utils.Database) -> None:
    """Sort keys and sizes of gap per row (ROW_TRIAGE_VALUES) and the brand the breakdown
    counts by, indexed for the console's sort (`o`) and breakdown (`F`): existing rows get
    them here, later ones from reconcile."""
    values = ", ".join(f"{expr} AS {name}" for name, expr in ROW_TRIAGE_VALUES.items())
    db.executescript(
        f"""
        ALTER TABLE rows ADD COLUMN q_gap INTEGER;
        ALTER TABLE rows ADD COLUMN p_gap REAL;
        ALTER TABLE rows ADD COLUMN risk REAL;
        ALTER TABLE rows ADD COLUMN q_size INTEGER;
        ALTER TABLE rows ADD COLUMN p_size INTEGER;
        ALTER TABLE rows ADD COLUMN brand TEXT;
        UPDATE rows SET q_gap = x.q_gap, p_gap = x.p_gap, risk = x.risk, q_size = x.q_size,
            p_size = x.p_size, brand = x.brand
        FROM (
            SELECT pair, pos, brand, {values} FROM (
                SELECT r.pair, r.pos, COALESCE(b.brand, s.brand) AS brand,
                       s.quantity_u AS sq, b.quantity_u AS bq, s.price_u AS sp,
                       b.price_u AS bp, s.cost_u AS sc, b.cost_u AS bc
                FROM rows AS r
                LEFT JOIN items AS s ON s.rowid = r.store_rid
                LEFT JOIN items AS b ON b.rowid = r.backoffice_rid
            )
        ) AS x
        WHERE rows.pair = x.pair AND rows.pos = x.pos;
        """
    )
    for name, columns in ROW_TRIAGE_INDEXES.items():
        db.execute(f"CREATE INDEX {name} ON {columns}")


def _schema_intended(db: sqlite_utils.Database) -> None:
    """Intended differences (`tui-sync ignore`): a seller's marks, per pair and row key, kept
    across refreshes like the manual mappings. `field` is quantity, price, cost, or '*' for the
    whole SKU. And the scoring policy the rows were last scored with (reconcile.Policy), so that
    a refresh after a config change (a new `quantity_buffer`) rescores every row, not only the
    ones whose items changed."""
    db.executescript(
        """
        ALTER TABLE refreshes ADD COLUMN policy TEXT;
        CREATE TABLE intended (
            pair TEXT NOT NULL, key TEXT NOT NULL, field TEXT NOT NULL,
            sku TEXT NOT NULL, note TEXT NOT NULL, marked_at TEXT NOT NULL,
            PRIMARY KEY (pair, key, field)
        ) WITHOUT ROWID;
        """
    )


def _schema_auto_ticks(db: sqlite_utils.Database) -> None:
    """The last `auto` tick of each pair, whoever ran it (cron, a timer, the console), so the
    console can show it: a refused or failed tick writes no run, so the journal cannot say."""
    db.executescript(
        """
        CREATE TABLE auto_ticks (
            pair TEXT PRIMARY KEY, at TEXT NOT NULL, ok INTEGER NOT NULL,
            summary TEXT NOT NULL, line TEXT NOT NULL, run_id TEXT
        );
        """
    )


def _schema_journal_by_item(db: sqlite_utils.Database) -> None:
    """The journal by the item written: row detail asks who last set a field of one item
    (journal.last_writes) without a scan of every change ever made."""
    db.executescript("CREATE INDEX journal_by_item ON journal (item_id, side);")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _schema_v1,
    _schema_v2,
    _schema_v3,
    _schema_v4,
    _schema_v5,
    _schema_intended,
    _schema_auto_ticks,
    _schema_journal_by_item,
]
SCHEMA_VERSION = len(MIGRATIONS)


def _baseline(count: int, prev: int | None, short_read: Decimal) -> int:
    """The count a next refresh is compared with: this one, unless it read short itself."""
    return prev if prev is not None and is_short(count, prev, short_read) else count


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- normalisation: done once per item at refresh, so reconcile is plain SQL comparisons -------


def sku_key(sku: str | None, side: Side, item_id: str) -> str:
    """Matching key: case and surrounding white space do not matter. No SKU never matches."""
    if sku is None or not sku.strip():
        return f"\x00{side}:{item_id}"
    return sku.strip().upper()


def name_key(name: str) -> str:
    """Names compare after trimming and folding runs of white space (and Unicode forms)."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def name_bare(name: str, sku: str | None) -> str:
    """The name without its own SKU appended as " - SKU", " (SKU)" or " SKU" (the NS case)."""
    folded = name_key(name)
    if not sku or not sku.strip():
        return folded
    code = sku.strip().upper()
    upper = folded.upper()
    for suffix in (f" - {code}", f" ({code})", f" {code}"):
        if upper.endswith(suffix) and len(folded) > len(suffix):
            return folded[: -len(suffix)].rstrip()
    return folded


def options_text(options: tuple[tuple[str, str], ...]) -> str:
    return ";".join(f"{k}={v}" for k, v in options)


def parse_options(text: str | None) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    pairs = (part.partition("=") for part in text.split(";") if part)
    return tuple((k, v) for k, _, v in pairs)


def variant_sig(options: tuple[tuple[str, str], ...]) -> str:
    """Compared across sides for IV: option names and values, case-folded, order-free."""
    return ";".join(sorted(f"{k.strip().casefold()}={v.strip().casefold()}" for k, v in options))


def item_row(pair: str, side: Side, item: Item) -> tuple[object, ...]:
    exact = all(money.is_exact_micros(v) for v in (item.quantity, item.price, item.cost))
    return (
        pair,
        side,
        item.id,
        item.sku,
        sku_key(item.sku, side, item.id),
        item.name,
        name_key(item.name),
        name_bare(item.name, item.sku),
        item.brand,
        money.text(item.quantity),
        money.micros(item.quantity),
        money.text(item.price),
        money.micros(item.price),
        money.text(item.cost),
        money.micros(item.cost),
        int(exact),
        item.parent_id,
        int(item.is_base),
        options_text(item.options) if item.options else None,
        variant_sig(item.options) if item.options else "",
        item.version,
        item.ref,
    )


ITEM_COLUMNS = (
    "pair, side, id, sku, sku_key, name, name_key, name_bare, brand, quantity, quantity_u, "
    "price, price_u, cost, cost_u, exact, parent_id, is_base, options, variant_sig, version, ref"
)
_ITEM_COLUMN_COUNT = ITEM_COLUMNS.count(",") + 1
# The columns `item_from_row` reads, in order; queries select them with a table prefix.
ITEM_FIELDS = ("id", "sku", "name", "brand", "quantity", "price", "cost", "parent_id", "is_base")
ITEM_FIELDS_MORE = ("options", "version", "ref")


def item_select(alias: str) -> str:
    return ", ".join(f"{alias}.{c}" for c in (*ITEM_FIELDS, *ITEM_FIELDS_MORE))


ITEM_WIDTH = len(ITEM_FIELDS) + len(ITEM_FIELDS_MORE)


def item_from_row(values: Sequence[object]) -> Item | None:
    """An Item from the columns of `item_select`; None when the side has no item (outer join)."""
    if values[0] is None:
        return None
    id_, sku, name, brand, quantity, price, cost, parent_id, is_base, options, version, ref = values
    try:
        return Item(
            id=str(id_),
            sku=None if sku is None else str(sku),
            name=str(name),
            brand=None if brand is None else str(brand),
            quantity=money.parse_quantity(quantity),
            price=money.parse_money(price, "price"),
            cost=money.parse_money(cost, "cost"),
            parent_id=None if parent_id is None else str(parent_id),
            is_base=bool(is_base),
            options=parse_options(None if options is None else str(options)),
            version=None if version is None else str(version),
            ref=None if ref is None else str(ref),
        )
    except money.BadNumber as exc:  # only reachable if the file was edited by hand
        raise CacheError(f"cache holds a value that is not a number: {exc}") from exc


@dataclass(frozen=True, slots=True)
class AutoTick:
    """The last `auto` tick of a pair: when (UTC, ISO), whether it went well, its result in a
    few words (`summary`) and in full (`line`), and the run it wrote, if any."""

    at: str
    ok: bool
    summary: str
    line: str
    run_id: str | None


@dataclass(frozen=True, slots=True)
class RefreshInfo:
    refreshed_at: str
    store_items: int
    backoffice_items: int
    store_mark: str | None = None  # watermarks for the next incremental read
    backoffice_mark: str | None = None
    since_full: int = 0  # incremental refreshes since the last full one
    # The guards' baseline: the counts of the refresh before, or of an earlier one when that
    # refresh read short (a short read never becomes the baseline by being read twice).
    prev_store_items: int | None = None
    prev_backoffice_items: int | None = None

    def mark(self, side: Side) -> str | None:
        return self.store_mark if side == "store" else self.backoffice_mark


@dataclass(frozen=True, slots=True)
class SwapInfo:
    count: int  # the side's items after the swap
    repair: bool  # items came, went or changed SKU/parent/options: pairing must be redone
    changed: list[int]  # rowids of existing items whose values changed: rescore their rows


# A staged item differs from the cached one in something scoring reads.
_DIFFERS = " OR ".join(
    f"i.{c} IS NOT s.{c}"
    for c in (
        "name",
        "brand",
        "quantity",
        "price",
        "cost",
        "version",
        "ref",
        "options",
        "sku",
    )
)


class Cache:
    """One connection to the cache file. Open one per thread."""

    def __init__(self, path: Path, timeout: float = 30) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise CacheError(f"cannot open cache {path}: {exc}") from exc
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        try:
            self._prepare()
        except sqlite3.DatabaseError as exc:
            conn.close()
            # Only a file SQLite cannot read is corrupt: a busy or read-only cache is healthy,
            # and "move it aside" would throw away a good audit log.
            text = str(exc).lower()
            if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
                raise CacheError(
                    f"cache {path} is locked by another tui-sync process; try again when it is done"
                ) from exc
            if isinstance(exc, sqlite3.OperationalError) and (
                "readonly" in text or "read-only" in text or "unable to open" in text
            ):
                where = (
                    f"data dir {path.parent} is read-only"
                    if not os.access(path.parent, os.W_OK)
                    else f"cache {path} (or its data dir) is read-only"
                )
                raise CacheError(f"{where}; tui-sync needs to write its cache there") from exc
            raise CacheError(
                f"cache {path} is corrupt or not a tui-sync cache ({exc}); "
                "move it aside and run `tui-sync refresh`"
            ) from exc

    @classmethod
    def open(cls, data_dir: Path) -> Cache:
        return cls(data_dir / CACHE_FILE)

    def _prepare(self) -> None:
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        # Reconcile's temp tables and sorts go to disk, not RAM: a 1M-SKU pair stays lean.
        self.conn.execute("PRAGMA temp_store=FILE")
        self.conn.execute("PRAGMA cache_size=-16000")
        self.conn.create_function("money_gap_over", 3, money.gap_over, deterministic=True)
        version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise CacheError(
                f"cache {self.path} was written by a newer tui-sync (schema {version}, this "
                f"version knows {SCHEMA_VERSION}); upgrade tui-sync or use another --data-dir"
            )
        if version == SCHEMA_VERSION:
            return
        # The migrations and the version bump commit together, so a crash leaves the old schema.
        with self.transaction():
            for migrate in MIGRATIONS[version:]:
                migrate(self.db)
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing. Nested use joins the outer transaction (a refresh replaces both
        sides and reconciles as one unit, so rows never point at replaced items)."""
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # --- items -------------------------------------------------------------------------------

    def stage(self, pair: str, side: Side, items: Iterable[Item]) -> int:
        """Add read items to the staging table, in a short transaction of their own: a refresh
        stages everything it reads without holding the write lock across its reads."""
        marks = ", ".join("?" * _ITEM_COLUMN_COUNT)
        insert = f"INSERT INTO stage_items ({ITEM_COLUMNS}) VALUES ({marks})"
        rows = [item_row(pair, side, item) for item in items]
        with self.transaction() as conn:
            conn.executemany(insert, rows)
        return len(rows)

    def clear_stage(self, pair: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM stage_items WHERE pair = ?", (pair,))

    def swap_in(
        self,
        pair: str,
        side: Side,
        full: bool,
        deleted: Sequence[str] = (),
        previous: int | None = None,
    ) -> SwapInfo:
        """Move a side's staged items into `items` (call inside the refresh's transaction).

        Items are upserted by id, so an unchanged item keeps its rowid and its row; a full read
        also removes every item it did not see, an incremental one the items reported deleted.
        Says whether the pairing may have changed (an item came, went, or changed its SKU,
        parent or options), or only values did (then rescoring the touched rows is enough)."""
        conn = self.conn
        args = (pair, side)
        gone = 0
        if full:
            gone = conn.execute(
                "DELETE FROM items WHERE pair = ? AND side = ? AND id NOT IN "
                "(SELECT id FROM stage_items WHERE pair = ? AND side = ?)",
                (*args, *args),
            ).rowcount
        for start in range(0, len(deleted), 500):
            part = list(deleted[start : start + 500])
            gone += conn.execute(
                f"DELETE FROM items WHERE pair = ? AND side = ? AND id IN "
                f"({', '.join('?' * len(part))})",
                (*args, *part),
            ).rowcount
        # Staged items that are new, or whose pairing-relevant columns changed.
        repaired, new = conn.execute(
            """SELECT count(*), COALESCE(sum(i.rowid IS NULL), 0)
               FROM stage_items AS s LEFT JOIN items AS i
               ON i.pair = s.pair AND i.side = s.side AND i.id = s.id
               WHERE s.pair = ? AND s.side = ? AND (i.rowid IS NULL OR i.sku_key IS NOT s.sku_key
                     OR i.parent_id IS NOT s.parent_id OR i.is_base IS NOT s.is_base
                     OR (s.is_base = 0 AND i.variant_sig IS NOT s.variant_sig))""",
            args,
        ).fetchone()
        changed = [
            int(r[0])
            for r in conn.execute(
                f"""SELECT i.rowid FROM stage_items AS s JOIN items AS i
                    ON i.pair = s.pair AND i.side = s.side AND i.id = s.id
                    WHERE s.pair = ? AND s.side = ? AND ({_DIFFERS})""",
                args,
            )
        ]
        # A base's variant signature is computed from its variants (_sign_bases), not read:
        # an upsert keeps the one it has unless the pairing changed and it is signed again.
        updates = ", ".join(
            f"{c} = CASE WHEN excluded.is_base THEN items.{c} ELSE excluded.{c} END"
            if c == "variant_sig"
            else f"{c} = excluded.{c}"
            for c in ITEM_COLUMNS.split(", ")[3:]
        )
        conn.execute(
            f"INSERT INTO items ({ITEM_COLUMNS}) SELECT {ITEM_COLUMNS} FROM stage_items "
            f"WHERE pair = ? AND side = ? ORDER BY rowid "
            f"ON CONFLICT (pair, side, id) DO UPDATE SET {updates}",
            args,
        )
        conn.execute("DELETE FROM stage_items WHERE pair = ? AND side = ?", args)
        if gone or repaired:
            self._sign_bases(conn, pair, side)
        if previous is not None and not full:
            # An incremental swap is small: its count follows from the last one, where a
            # count(*) would read every item of the side (~40 ms at 100k).
            count = previous - gone + int(new)
        else:
            count = conn.execute(
                "SELECT count(*) FROM items WHERE pair = ? AND side = ?", args
            ).fetchone()[0]
        return SwapInfo(int(count), bool(gone or repaired), changed)

    def replace_items(self, pair: str, side: Side, items: Iterable[Item]) -> int:
        """Replace every item of one side of a pair; all or nothing (tests and tools)."""
        with self.transaction():
            self.stage(pair, side, items)
            return self.swap_in(pair, side, full=True).count

    @staticmethod
    def _sign_bases(conn: sqlite3.Connection, pair: str, side: Side) -> None:
        # A base's variant structure is its variant count and option names, so IV on a base row
        # says "the parent has a different set of variants on the other side".
        conn.execute(
            """
            UPDATE items SET variant_sig = (
                SELECT count(*) || ':' || COALESCE(group_concat(v.variant_sig, '|'), '')
                FROM (SELECT child.variant_sig FROM items AS child
                      WHERE child.pair = items.pair AND child.side = items.side
                        AND child.parent_id = items.id
                      ORDER BY child.variant_sig) AS v
            )
            WHERE pair = ? AND side = ? AND is_base = 1
            """,
            (pair, side),
        )

    def set_item_value(
        self,
        pair: str,
        side: Side,
        item_id: str,
        field: Field,
        value: Number | None,
        version: str | None,
    ) -> None:
        """Record a value the target confirmed, so the grid shows it without a refresh."""
        sets = f"{field} = ?, {field}_u = ?"
        args: list[object] = [money.text(value), money.micros(value)]
        if not money.is_exact_micros(value):
            sets += ", exact = 0"
        if version is not None:
            sets += ", version = ?"
            args.append(version)
        # The column name comes from the closed Field literal, never from outside text.
        self.conn.execute(
            f"UPDATE items SET {sets} WHERE pair = ? AND side = ? AND id = ?",
            (*args, pair, side, item_id),
        )

    def pending_signature(self, pair: str) -> list[tuple[str, int]]:
        return [
            (str(k), int(q))
            for k, q in self.conn.execute(
                "SELECT sku_key, sum(quantity) FROM pending WHERE pair = ? GROUP BY sku_key "
                "ORDER BY sku_key",
                (pair,),
            )
        ]

    def replace_pending(self, pair: str, lines: Iterable[PendingLine]) -> int:
        rows = [
            (pair, line.order_id, sku_key(line.sku, "store", ""), line.quantity, line.status)
            for line in lines
        ]
        with self.transaction() as conn:
            conn.execute("DELETE FROM pending WHERE pair = ?", (pair,))
            conn.executemany("INSERT INTO pending VALUES (?, ?, ?, ?, ?)", rows)
        return len(rows)

    def pending_orders(self, pair: str, key: str) -> list[tuple[str, int, str]]:
        cur = self.conn.execute(
            "SELECT order_id, quantity, status FROM pending WHERE pair = ? AND sku_key = ? "
            "ORDER BY order_id",
            (pair, key),
        )
        return [(str(o), int(q), str(s)) for o, q, s in cur]

    def record_refresh(
        self,
        pair: str,
        store_items: int,
        backoffice_items: int,
        marks: tuple[str | None, str | None] = (None, None),
        full: bool = True,
        short_read: Decimal = Decimal("0.10"),
    ) -> None:
        """Record a refresh. The guards' baseline moves to the counts it replaces, unless those
        were a short read themselves: then it stays, so a feed broken two refreshes running is
        still refused the second time, until a person confirms (`accept_counts`)."""
        old = self.refresh_info(pair)
        prev: tuple[int | None, int | None] = (None, None)
        if old is not None:
            prev = (
                _baseline(old.store_items, old.prev_store_items, short_read),
                _baseline(old.backoffice_items, old.prev_backoffice_items, short_read),
            )
        self.conn.execute(
            "INSERT INTO refreshes (pair, refreshed_at, store_items, backoffice_items, "
            "store_mark, backoffice_mark, since_full, prev_store_items, prev_backoffice_items) "
            "VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (pair) DO UPDATE SET "
            "refreshed_at = excluded.refreshed_at, store_items = excluded.store_items, "
            "backoffice_items = excluded.backoffice_items, store_mark = excluded.store_mark, "
            "backoffice_mark = excluded.backoffice_mark, "
            "prev_store_items = excluded.prev_store_items, "
            "prev_backoffice_items = excluded.prev_backoffice_items, "
            f"since_full = {'0' if full else 'since_full + 1'}",
            (pair, now_utc(), store_items, backoffice_items, *marks, *prev),
        )

    def scored_with(self, pair: str) -> str | None:
        """The policy signature the pair's rows were scored with at the last refresh."""
        row = self.conn.execute("SELECT policy FROM refreshes WHERE pair = ?", (pair,)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def record_scored_with(self, pair: str, signature: str) -> None:
        self.conn.execute("UPDATE refreshes SET policy = ? WHERE pair = ?", (signature, pair))

    def accept_counts(self, pair: str) -> None:
        """A person confirmed a plan built on these counts: they are the new baseline."""
        self.conn.execute(
            "UPDATE refreshes SET prev_store_items = store_items, "
            "prev_backoffice_items = backoffice_items WHERE pair = ?",
            (pair,),
        )

    def record_tick(self, pair: str, tick: AutoTick) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO auto_ticks VALUES (?, ?, ?, ?, ?, ?)",
            (pair, tick.at, int(tick.ok), tick.summary, tick.line, tick.run_id),
        )

    def last_tick(self, pair: str) -> AutoTick | None:
        row = self.conn.execute(
            "SELECT at, ok, summary, line, run_id FROM auto_ticks WHERE pair = ?", (pair,)
        ).fetchone()
        if row is None:
            return None
        at, ok, summary, line, run_id = row
        return AutoTick(str(at), bool(ok), str(summary), str(line), run_id and str(run_id))

    def refresh_info(self, pair: str) -> RefreshInfo | None:
        row = self.conn.execute(
            "SELECT refreshed_at, store_items, backoffice_items, store_mark, backoffice_mark, "
            "since_full, prev_store_items, prev_backoffice_items FROM refreshes WHERE pair = ?",
            (pair,),
        ).fetchone()
        if row is None:
            return None

        def text(value: object) -> str | None:
            return None if value is None else str(value)

        def number(value: object) -> int | None:
            return None if value is None else int(str(value))

        return RefreshInfo(
            str(row[0]),
            int(row[1]),
            int(row[2]),
            text(row[3]),
            text(row[4]),
            int(row[5]),
            number(row[6]),
            number(row[7]),
        )

    def sellable_with(self, pair: str, side: Side, field: Field) -> int:
        """The side's sellable (non-base) items that hold a value of `field`: the guards'
        denominator for "a share of the target's quantities / prices"."""
        column = {"quantity": "quantity", "price": "price", "cost": "cost"}[field]
        return int(
            self.conn.execute(
                f"SELECT count(*) FROM items WHERE pair = ? AND side = ? AND is_base = 0 "
                f"AND {column} IS NOT NULL",
                (pair, side),
            ).fetchone()[0]
        )

    def save_shown_plan(self, pair: str, plan_hash: str, lines: str, keep: int = 50) -> None:
        """Remember a plan `--dry-run` showed (its canonical lines), the last `keep` per pair."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO shown_plans VALUES (?, ?, ?, ?)",
                (pair, plan_hash, now_utc(), lines),
            )
            conn.execute(
                "DELETE FROM shown_plans WHERE pair = ? AND hash NOT IN (SELECT hash FROM "
                "shown_plans WHERE pair = ? ORDER BY shown_at DESC, rowid DESC LIMIT ?)",
                (pair, pair, keep),
            )

    def shown_plan(self, pair: str, plan_hash: str) -> str | None:
        row = self.conn.execute(
            "SELECT lines FROM shown_plans WHERE pair = ? AND hash = ?", (pair, plan_hash)
        ).fetchone()
        return None if row is None else str(row[0])

    # --- manual mappings ----------------------------------------------------------------------

    def set_mapping(self, pair: str, store_sku: str, backoffice_sku: str) -> None:
        """Match a store SKU to a differently spelled back-office SKU (used at reconcile)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO mappings VALUES (?, ?, ?)",
            (pair, sku_key(store_sku, "store", ""), sku_key(backoffice_sku, "backoffice", "")),
        )

    def remove_mapping(self, pair: str, store_sku: str) -> None:
        self.conn.execute(
            "DELETE FROM mappings WHERE pair = ? AND store_key = ?",
            (pair, sku_key(store_sku, "store", "")),
        )

    def mappings(self, pair: str) -> dict[str, str]:
        cur = self.conn.execute(
            "SELECT store_key, backoffice_key FROM mappings WHERE pair = ?", (pair,)
        )
        return {str(s): str(b) for s, b in cur}

    # --- intended differences -----------------------------------------------------------------

    def set_intent(self, pair: str, key: str, sku: str, field: Field | None, note: str) -> Intent:
        """Mark a row's field (None: the whole SKU) as an intended difference; a second mark of
        the same field replaces the first (its note and date)."""
        mark = Intent(field, note, now_utc())
        self.conn.execute(
            "INSERT OR REPLACE INTO intended VALUES (?, ?, ?, ?, ?, ?)",
            (pair, key, field or WHOLE_SKU, sku, note, mark.marked_at),
        )
        return mark

    def remove_intents(self, pair: str, key: str, field: Field | None) -> int:
        """Remove a row's mark of one field, or (None) every mark of the row; how many went."""
        if field is None:
            cur = self.conn.execute("DELETE FROM intended WHERE pair = ? AND key = ?", (pair, key))
        else:
            cur = self.conn.execute(
                "DELETE FROM intended WHERE pair = ? AND key = ? AND field = ?",
                (pair, key, field),
            )
        return cur.rowcount

    def has_intents(self, pair: str) -> bool:
        return (
            self.conn.execute("SELECT 1 FROM intended WHERE pair = ? LIMIT 1", (pair,)).fetchone()
            is not None
        )

    def intents(self, pair: str, keys: Sequence[str]) -> dict[str, list[Intent]]:
        """The marks of these rows (by key), one indexed lookup per 500 keys."""
        found: dict[str, list[Intent]] = {}
        for start in range(0, len(keys), 500):
            part = list(keys[start : start + 500])
            for key, field, note, at in self.conn.execute(
                "SELECT key, field, note, marked_at FROM intended WHERE pair = ? "
                f"AND key IN ({', '.join('?' * len(part))}) ORDER BY key, field",
                (pair, *part),
            ):
                found.setdefault(str(key), []).append(
                    Intent(_intent_field(field), str(note), str(at))
                )
        return found

    def intent_list(self, pair: str) -> list[tuple[str, str, Intent]]:
        """Every mark of a pair as (row key, SKU as marked, mark), in SKU order."""
        return [
            (str(key), str(sku), Intent(_intent_field(field), str(note), str(at)))
            for key, sku, field, note, at in self.conn.execute(
                "SELECT key, sku, field, note, marked_at FROM intended WHERE pair = ? "
                "ORDER BY key, field",
                (pair,),
            )
        ]


WHOLE_SKU = "*"  # the `intended.field` of a whole-SKU mark


_INTENT_FIELDS: dict[str, Field] = {"quantity": "quantity", "price": "price", "cost": "cost"}


def _intent_field(value: object) -> Field | None:
    return _INTENT_FIELDS.get(str(value))  # WHOLE_SKU: None


class CacheThread:
    """A cache connection that lives on one thread of its own, for async code: every SQLite
    call of a refresh or a sync runs there, off the event loop, one at a time and in order."""

    def __init__(self, data_dir: Path) -> None:
        import concurrent.futures

        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="cache")
        self._cache: Cache | None = None
        self._data_dir = data_dir

    async def call(self, fn: Callable[..., T], *args: object) -> T:
        import asyncio
        import functools

        def run() -> T:
            if self._cache is None:
                self._cache = Cache.open(self._data_dir)
            return fn(self._cache, *args)

        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(run))

    def close(self) -> None:
        def shut() -> None:
            if self._cache is not None:
                self._cache.close()
                self._cache = None

        self._pool.submit(shut).result()
        self._pool.shutdown()
