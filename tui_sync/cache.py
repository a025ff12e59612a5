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
from decimal import Decimal, InvalidOperation
from pathlib import Path

import sqlite_utils

from tui_sync.model import Field, Item, PendingLine, Side

CACHE_FILE = "cache.db"
# Money is kept exactly as TEXT and, for comparisons in SQL, as integer millionths.
MICROS = Decimal(1_000_000)


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


# Migrations in order: MIGRATIONS[n] brings a cache from schema n to n + 1.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_schema_v1]
SCHEMA_VERSION = len(MIGRATIONS)


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


def to_micros(value: Decimal | None) -> int | None:
    return None if value is None else int((value * MICROS).to_integral_value())


def money_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def parse_money(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # only reachable if the file was edited by hand
        raise CacheError(f"cache holds a money value that is not a number: {text!r}") from exc


def item_row(pair: str, side: Side, item: Item) -> tuple[object, ...]:
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
        item.quantity,
        money_text(item.price),
        to_micros(item.price),
        money_text(item.cost),
        to_micros(item.cost),
        item.parent_id,
        int(item.is_base),
        options_text(item.options) if item.options else None,
        variant_sig(item.options) if item.options else "",
        item.version,
    )


ITEM_COLUMNS = (
    "pair, side, id, sku, sku_key, name, name_key, name_bare, brand, quantity, price, price_u, "
    "cost, cost_u, parent_id, is_base, options, variant_sig, version"
)
# The columns `item_from_row` reads, in order; queries select them with a table prefix.
ITEM_FIELDS = ("id", "sku", "name", "brand", "quantity", "price", "cost", "parent_id", "is_base")
ITEM_FIELDS_MORE = ("options", "version")


def item_select(alias: str) -> str:
    return ", ".join(f"{alias}.{c}" for c in (*ITEM_FIELDS, *ITEM_FIELDS_MORE))


ITEM_WIDTH = len(ITEM_FIELDS) + len(ITEM_FIELDS_MORE)


def item_from_row(values: Sequence[object]) -> Item | None:
    """An Item from the columns of `item_select`; None when the side has no item (outer join)."""
    if values[0] is None:
        return None
    id_, sku, name, brand, quantity, price, cost, parent_id, is_base, options, version = values
    return Item(
        id=str(id_),
        sku=None if sku is None else str(sku),
        name=str(name),
        brand=None if brand is None else str(brand),
        quantity=None if quantity is None else int(str(quantity)),
        price=parse_money(None if price is None else str(price)),
        cost=parse_money(None if cost is None else str(cost)),
        parent_id=None if parent_id is None else str(parent_id),
        is_base=bool(is_base),
        options=parse_options(None if options is None else str(options)),
        version=None if version is None else str(version),
    )


@dataclass(frozen=True, slots=True)
class RefreshInfo:
    refreshed_at: str
    store_items: int
    backoffice_items: int


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

    def replace_items(self, pair: str, side: Side, items: Iterable[Item], chunk: int = 2000) -> int:
        """Replace every item of one side of a pair; all or nothing."""
        count = 0
        insert = f"INSERT INTO items ({ITEM_COLUMNS}) VALUES ({', '.join('?' * 19)})"
        with self.transaction() as conn:
            conn.execute("DELETE FROM items WHERE pair = ? AND side = ?", (pair, side))
            batch: list[tuple[object, ...]] = []
            for item in items:
                batch.append(item_row(pair, side, item))
                if len(batch) >= chunk:
                    conn.executemany(insert, batch)
                    count += len(batch)
                    batch.clear()
            conn.executemany(insert, batch)
            count += len(batch)
            self._sign_bases(conn, pair, side)
        return count

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
        self, pair: str, side: Side, item_id: str, field: Field, value: object, version: str | None
    ) -> None:
        """Record a value written by a sync, so the grid shows it without a refresh."""
        if field == "quantity":
            sets, args = "quantity = ?", [value]
        else:
            money = value if isinstance(value, Decimal) or value is None else Decimal(str(value))
            sets, args = f"{field} = ?, {field}_u = ?", [money_text(money), to_micros(money)]
        if version is not None:
            sets += ", version = ?"
            args.append(version)
        self.conn.execute(
            f"UPDATE items SET {sets} WHERE pair = ? AND side = ? AND id = ?",
            (*args, pair, side, item_id),
        )

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

    def record_refresh(self, pair: str, store_items: int, backoffice_items: int) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO refreshes VALUES (?, ?, ?, ?)",
            (pair, now_utc(), store_items, backoffice_items),
        )

    def refresh_info(self, pair: str) -> RefreshInfo | None:
        row = self.conn.execute(
            "SELECT refreshed_at, store_items, backoffice_items FROM refreshes WHERE pair = ?",
            (pair,),
        ).fetchone()
        return None if row is None else RefreshInfo(str(row[0]), int(row[1]), int(row[2]))

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
