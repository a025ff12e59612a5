"""The sandbox's "remote" state: what the built-in store and back office hold, in one SQLite file.

It lives at `<data_dir>/sandbox.db`, apart from the cache, because it stands for the vendors'
servers: a sync writes here, a refresh reads from here, and only `sandbox --reset` (or
`demo --reset`) regenerates it.

Schema::

    meta(key TEXT PRIMARY KEY, value TEXT)
        size, seed, created (ISO time), store_items, backoffice_items (row counts, bases included)
    items(side TEXT, id TEXT, sku TEXT, name TEXT, brand TEXT, quantity INTEGER,
          price TEXT, cost TEXT, parent_id TEXT, is_base INTEGER, options TEXT, version INTEGER)
        side      "store" or "backoffice"
        id        store: "product:variant" ("123:456"), base products "123";
                  backoffice: a plain integer as text ("77")
        price     2-decimal text ("19.99"), never a float; cost likewise
        parent_id the base item's id for a variant, else NULL
        options   "Name=Value;Name=Value" ("Color=Red;Size=M"), "" when none
        version   bumped on every write: the concurrency token handed out as Item.version
        modified  the state's clock when the item last changed: incremental reads ask for
                  items modified after a watermark
    orders(order_id TEXT, sku TEXT, quantity INTEGER, status TEXT, posted INTEGER)
        store order lines; posted = 1 once the back office has imported the order
    deleted(side, id, modified)   items removed, for incremental reads
    applied(batch_key, side, id, field, value, at)   every write applied, by idempotency key:
        a batch sent again with the same key is answered from here, never applied twice
    faults(key, value)   fault switches for tests and the bench (never set by `demo`)

Indexes: items_page on items(side) (SQLite appends the rowid, so it serves keyset paging by
(side, rowid)), items_id UNIQUE on items(side, id), orders_by_id on orders(order_id).
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Literal

from tui_sync import money
from tui_sync.connectors.base import ConnectorError
from tui_sync.model import Field, Side

# Added after the first release: `open_state` brings an older state file up to date in place.
_LATER = """
CREATE TABLE IF NOT EXISTS deleted (side TEXT NOT NULL, id TEXT NOT NULL, modified INTEGER);
CREATE TABLE IF NOT EXISTS applied (
    batch_key TEXT NOT NULL, side TEXT NOT NULL, id TEXT NOT NULL, field TEXT NOT NULL,
    value TEXT, version INTEGER, at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS applied_by_key ON applied (batch_key);
CREATE TABLE IF NOT EXISTS faults (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
SCHEMA = (
    """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (
    side TEXT NOT NULL, id TEXT NOT NULL, sku TEXT, name TEXT NOT NULL, brand TEXT,
    quantity INTEGER, price TEXT, cost TEXT, parent_id TEXT,
    is_base INTEGER NOT NULL DEFAULT 0, options TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 1, modified INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE orders (
    order_id TEXT NOT NULL, sku TEXT NOT NULL, quantity INTEGER NOT NULL,
    status TEXT NOT NULL, posted INTEGER NOT NULL DEFAULT 0
);
"""
    + _LATER
)

# Built after the bulk load: maintaining them row by row would cost more than one sort at the end.
INDEXES = """
CREATE INDEX items_page ON items (side);
CREATE UNIQUE INDEX items_id ON items (side, id);
CREATE INDEX orders_by_id ON orders (order_id);
CREATE INDEX items_modified ON items (side, modified);
"""

ITEM_COLUMNS = (
    "side, id, sku, name, brand, quantity, price, cost, parent_id, is_base, options, version"
)

STATE_FILE = "sandbox.db"


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


MISSING = "sandbox state not found; run `tui-sync demo --reset`"
# Said whenever the state exists but cannot be used: it holds every earlier sync to the sandbox,
# so only the user may throw it away.
RESET = "`tui-sync sandbox --reset` (or `demo --reset`) starts a new one, losing earlier syncs"
# How long to wait for another process's write to the state before saying it is locked.
LOCK_TIMEOUT = 10.0
_HEADER = b"SQLite format 3\x00"


class SandboxStateError(ConnectorError):
    """The state file exists but cannot be used (locked, truncated, corrupt). Never regenerated
    behind the user's back: the message names the file and what to do."""


def _unreadable(path: Path, error: Exception) -> SandboxStateError:
    reason = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, sqlite3.OperationalError) and "locked" in reason:
        return SandboxStateError(
            f"sandbox state {path} is locked by another process; try again when it is done"
        )
    return SandboxStateError(f"sandbox state {path} is unreadable ({reason}); {RESET}")


def _damage(path: Path) -> str | None:
    """What is wrong with the file itself, from its SQLite header, before SQLite reads it: an
    empty or cut file would otherwise open as an empty database, or fail only mid-refresh."""
    try:
        with path.open("rb") as file:
            header = file.read(100)
        size = path.stat().st_size
    except OSError as error:
        return error.strerror or type(error).__name__
    if not header:
        return "the file is empty"
    if len(header) < 100 or not header.startswith(_HEADER):
        return "not an SQLite database"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The page count in the header is only valid when its "version valid for" matches the
    # change counter (SQLite file format, section 1.3.7).
    if header[24:28] == header[92:96] and size < page_size * pages:
        return f"truncated: {size:,} of {page_size * pages:,} bytes"
    return None


def open_state(path: Path, timeout: float | None = None) -> sqlite3.Connection:
    """A connection to an existing, valid state file; ConnectorError (one line) otherwise."""
    if not path.exists():
        raise ConnectorError(MISSING)
    if not path.is_file():
        raise SandboxStateError(f"sandbox state {path} is not a file; {RESET}")
    damage = _damage(path)
    if damage:
        raise SandboxStateError(f"sandbox state {path} is unreadable ({damage}); {RESET}")
    try:
        # mode=rw: a vanished file must be an error, not silently recreated empty.
        conn = sqlite3.connect(
            path.resolve().as_uri() + "?mode=rw",
            uri=True,
            timeout=LOCK_TIMEOUT if timeout is None else timeout,
            check_same_thread=False,
        )
    except sqlite3.Error as error:
        raise _unreadable(path, error) from None
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'size'").fetchone()
        conn.execute("SELECT id, version FROM items LIMIT 0")
        conn.execute("SELECT order_id, posted FROM orders LIMIT 0")
        _upgrade(conn)
    except sqlite3.Error as error:
        conn.close()
        raise _unreadable(path, error) from None
    if row is None:
        conn.close()
        raise SandboxStateError(f"sandbox state {path} has no catalog size; {RESET}")
    return conn


def _upgrade(conn: sqlite3.Connection) -> None:
    """Bring a state file made by an earlier version up to date, keeping what it holds."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(items)")}
    if "modified" in columns:
        return
    with conn:
        conn.execute("ALTER TABLE items ADD COLUMN modified INTEGER NOT NULL DEFAULT 0")
        conn.execute("CREATE INDEX IF NOT EXISTS items_modified ON items (side, modified)")
        conn.executescript(_LATER)


def info(path: Path) -> dict[str, object] | None:
    """The meta of a state file (size and seed as int), or None when there is no file.

    A file that exists but cannot be used raises SandboxStateError: callers must never take it
    for a missing one and generate over it."""
    if not path.exists():
        return None
    conn = open_state(path)
    try:
        rows = conn.execute("SELECT key, value FROM meta").fetchall()
    except sqlite3.Error as error:
        raise _unreadable(path, error) from None
    finally:
        conn.close()
    meta: dict[str, object] = {}
    for key, value in rows:
        meta[key] = int(value) if value.lstrip("-").isdigit() else value
    return meta


def encode_options(options: tuple[tuple[str, str], ...]) -> str:
    return ";".join(f"{name}={value}" for name, value in options)


def decode_options(text: str | None) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    pairs = (part.partition("=") for part in text.split(";"))
    return tuple((name, value) for name, _, value in pairs)


def to_column(field: Field, value: int | Decimal | str | None) -> int | str | None:
    """A value as the state keeps it: quantities as integers, money as exact text."""
    if value is None:
        return None
    if field == "quantity":
        return int(value)
    return money.text(money.parse_money(value))


def column(field: str) -> str:
    """The column of a field: only the closed set of names, never text from outside."""
    if field not in ("quantity", "price", "cost"):
        raise ValueError(f"not a field: {field!r}")
    return field


def tick(conn: sqlite3.Connection) -> int:
    """Advance the state's clock (inside the caller's transaction) and return the new time."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()
    now = (int(row[0]) if row else 0) + 1
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('clock', ?)", (str(now),))
    return now


# --- fault switches: how the tests and the bench make the sandbox fail the way real APIs do ---

FAULTS = {
    "latency_ms": "milliseconds each call waits before it answers",
    "throttle": "how many of the next write calls are answered 429 (throttled)",
    "reject_sku": "a SKU whose every write is rejected (one bad item of a batch)",
    "lose_answer_at": "the Nth write batch is applied, then its answer is lost (timeout)",
    "crash_at": "the Nth write batch is applied, then the process dies before answering",
    "change_at_write": "side:id:field=value changed behind our back as the next write arrives",
}


def set_faults(path: Path, **switches: object) -> None:
    """Turn fault switches on (a value) or off (None); unknown names are an error."""
    unknown = set(switches) - set(FAULTS)
    if unknown:
        raise KeyError(f"unknown fault switch(es): {', '.join(sorted(unknown))}")
    conn = open_state(path)
    try:
        with conn:
            for key, value in switches.items():
                if value is None:
                    conn.execute("DELETE FROM faults WHERE key = ?", (key,))
                else:
                    conn.execute("INSERT OR REPLACE INTO faults VALUES (?, ?)", (key, str(value)))
            conn.execute("INSERT OR IGNORE INTO faults VALUES ('write_calls', '0')")
    finally:
        conn.close()


def applied_writes(path: Path) -> list[tuple[str, str, str, str, str | None]]:
    """Every write the sandbox applied: (batch key, side, item id, field, value), in order."""
    conn = open_state(path)
    try:
        rows = conn.execute(
            "SELECT batch_key, side, id, field, value FROM applied ORDER BY rowid"
        ).fetchall()
    finally:
        conn.close()
    return [
        (str(k), str(s), str(i), str(f), None if v is None else str(v)) for k, s, i, f, v in rows
    ]


def set_value(
    path: Path, side: Side, item_id: str, field: Field, value: int | Decimal | str | None
) -> None:
    """Change a value behind tui-sync's back (tests, demos), bumping its version like a vendor."""
    conn = open_state(path)
    try:
        with conn:
            # The column name comes from the closed Field literal, never from user text.
            cursor = conn.execute(
                f"UPDATE items SET {field} = ?, version = version + 1, modified = ? "
                "WHERE side = ? AND id = ?",
                (to_column(field, value), tick(conn), side, item_id),
            )
        if cursor.rowcount == 0:
            raise LookupError(f"no {side} item with id {item_id!r}")
    finally:
        conn.close()


def delete_item(path: Path, side: Side, item_id: str) -> None:
    """Remove an item behind tui-sync's back, as when a seller deletes it in the vendor's UI."""
    conn = open_state(path)
    try:
        with conn:
            conn.execute("DELETE FROM items WHERE side = ? AND id = ?", (side, item_id))
            conn.execute("INSERT INTO deleted VALUES (?, ?, ?)", (side, item_id, tick(conn)))
    finally:
        conn.close()


def post_order(path: Path, order_id: str) -> None:
    """Mark an order as imported by the back office, so it no longer holds stock as pending."""
    conn = open_state(path)
    try:
        with conn:
            conn.execute("UPDATE orders SET posted = 1 WHERE order_id = ?", (order_id,))
    finally:
        conn.close()


def set_text(
    path: Path, side: Side, item_id: str, column: Literal["sku", "name", "brand"], value: str
) -> None:
    """Change an item's SKU, name or brand behind tui-sync's back (tests plant hostile text)."""
    conn = open_state(path)
    try:
        with conn:
            # The column name comes from the closed Literal above, never from user text.
            cursor = conn.execute(
                f"UPDATE items SET {column} = ?, version = version + 1, modified = ? "
                "WHERE side = ? AND id = ?",
                (value, tick(conn), side, item_id),
            )
        if cursor.rowcount == 0:
            raise LookupError(f"no {side} item with id {item_id!r}")
    finally:
        conn.close()
