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
    orders(order_id TEXT, sku TEXT, quantity INTEGER, status TEXT, posted INTEGER)
        store order lines; posted = 1 once the back office has imported the order

Indexes: items_page on items(side) (SQLite appends the rowid, so it serves keyset paging by
(side, rowid)), items_id UNIQUE on items(side, id), orders_by_id on orders(order_id).
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Literal

from tui_sync.connectors.base import ConnectorError
from tui_sync.model import Field, Side

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (
    side TEXT NOT NULL, id TEXT NOT NULL, sku TEXT, name TEXT NOT NULL, brand TEXT,
    quantity INTEGER, price TEXT, cost TEXT, parent_id TEXT,
    is_base INTEGER NOT NULL DEFAULT 0, options TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE orders (
    order_id TEXT NOT NULL, sku TEXT NOT NULL, quantity INTEGER NOT NULL,
    status TEXT NOT NULL, posted INTEGER NOT NULL DEFAULT 0
);
"""

# Built after the bulk load: maintaining them row by row would cost more than one sort at the end.
INDEXES = """
CREATE INDEX items_page ON items (side);
CREATE UNIQUE INDEX items_id ON items (side, id);
CREATE INDEX orders_by_id ON orders (order_id);
"""

ITEM_COLUMNS = (
    "side, id, sku, name, brand, quantity, price, cost, parent_id, is_base, options, version"
)

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
    except sqlite3.Error as error:
        conn.close()
        raise _unreadable(path, error) from None
    if row is None:
        conn.close()
        raise SandboxStateError(f"sandbox state {path} has no catalog size; {RESET}")
    return conn


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


def money_text(value: Decimal) -> str:
    """Money as the vendors hold it: 2 decimals, as text so no float ever rounds it."""
    return str(value.quantize(Decimal("0.01")))


def to_column(field: Field, value: int | Decimal | str | None) -> int | str | None:
    if value is None:
        return None
    if field == "quantity":
        return int(value)
    return money_text(Decimal(value))


def set_value(
    path: Path, side: Side, item_id: str, field: Field, value: int | Decimal | str | None
) -> None:
    """Change a value behind tui-sync's back (tests, demos), bumping its version like a vendor."""
    conn = open_state(path)
    try:
        with conn:
            # The column name comes from the closed Field literal, never from user text.
            cursor = conn.execute(
                f"UPDATE items SET {field} = ?, version = version + 1 WHERE side = ? AND id = ?",
                (to_column(field, value), side, item_id),
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
                f"UPDATE items SET {column} = ?, version = version + 1 WHERE side = ? AND id = ?",
                (value, side, item_id),
            )
        if cursor.rowcount == 0:
            raise LookupError(f"no {side} item with id {item_id!r}")
    finally:
        conn.close()
