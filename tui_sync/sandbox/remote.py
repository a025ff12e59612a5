"""The sandbox's "remote" state: what the built-in store and back office hold, in one SQLite file.

It lives at `<data_dir>/sandbox.db`, apart from tui-sync's cache, because it stands for the
vendors' servers: a sync writes here, a refresh reads from here, `demo --reset` regenerates it.

Schema::

    meta(key TEXT PRIMARY KEY, value TEXT)
        size, seed, created (ISO time, UTC), store_items, backoffice_items (rows, bases included)
    items(side TEXT, id TEXT, sku TEXT, name TEXT, brand TEXT, quantity INTEGER,
          price TEXT, cost TEXT, parent_id TEXT, is_base INTEGER, options TEXT, version INTEGER)
        side      "store" or "backoffice": one table, so both sides share one schema and code
        id        stable item id. store, as BigCommerce: "product:variant" ("123:1456") for a
                  sellable item, "product" ("123") for a base; backoffice: an integer as text
        sku       as the side holds it: may differ from the other side's in case or spaces
        quantity  NULL on bases; never negative on the store, may be on the back office
        price     2-decimal text ("19.99"), never a float; cost likewise (NULL on bases)
        parent_id the base item's id (same side) for a variant, else NULL
        is_base   1 for a parent that only groups variants
        options   "Name=Value;Name=Value" ("Color=Red;Size=M"); "" when none
        version   starts at 1, bumped on every write: the concurrency token of Item.version
    orders(order_id TEXT, sku TEXT, quantity INTEGER, status TEXT, posted INTEGER)
        store order lines (an order may have several). A line whose status is one of
        PENDING_STATUSES takes stock and is what the store reports as pending; posted = 1 once
        the back office has imported the order. As generated, the back office has posted none
        of the pending orders, only some older completed ones.

Indexes (built after the bulk load): items_page on items(side), which SQLite extends with the
rowid so it serves keyset paging by (side, rowid); items_id UNIQUE on items(side, id);
orders_by_id on orders(order_id).
"""

from __future__ import annotations

import functools
import sqlite3
from decimal import Decimal
from pathlib import Path

from tui_sync.connectors.base import ConnectorError
from tui_sync.model import FIELDS, Field, Side

SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE items (
        side TEXT NOT NULL, id TEXT NOT NULL, sku TEXT, name TEXT NOT NULL, brand TEXT,
        quantity INTEGER, price TEXT, cost TEXT, parent_id TEXT,
        is_base INTEGER NOT NULL DEFAULT 0, options TEXT NOT NULL DEFAULT '',
        version INTEGER NOT NULL DEFAULT 1
    )""",
    """CREATE TABLE orders (
        order_id TEXT NOT NULL, sku TEXT NOT NULL, quantity INTEGER NOT NULL,
        status TEXT NOT NULL, posted INTEGER NOT NULL DEFAULT 0
    )""",
)
INDEXES = (
    "CREATE INDEX items_page ON items (side)",
    "CREATE UNIQUE INDEX items_id ON items (side, id)",
    "CREATE INDEX orders_by_id ON orders (order_id)",
)
ITEM_COLUMNS = (
    "side, id, sku, name, brand, quantity, price, cost, parent_id, is_base, options, version"
)
# The store's order statuses that take stock before the back office posts the order.
PENDING_STATUSES = ("Awaiting Fulfillment", "Awaiting Shipment", "Awaiting Payment")
POSTED_STATUSES = ("Completed", "Shipped")

MISSING = "sandbox state not found: run `tui-sync demo` or `--reset`"


def unreadable(error: Exception) -> ConnectorError:
    reason = " ".join(str(error).split()) or type(error).__name__
    return ConnectorError(f"sandbox state is unreadable ({reason}): run `tui-sync demo --reset`")


def open_state(path: Path) -> sqlite3.Connection:
    """A connection to an existing, valid state file; ConnectorError (one line) otherwise.

    The connection is in autocommit mode: writers begin their own transactions (BEGIN
    IMMEDIATE), so a value checked is still the value when it is overwritten.
    """
    if not path.is_file():
        raise ConnectorError(MISSING)
    try:
        # mode=rw: a vanished file must be an error, not silently recreated empty.
        conn = sqlite3.connect(
            path.resolve().as_uri() + "?mode=rw",
            uri=True,
            timeout=10,
            isolation_level=None,
            check_same_thread=False,  # connectors run in TUI worker threads, one call at a time
        )
    except sqlite3.Error as error:
        raise unreadable(error) from None
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'size'").fetchone()
        conn.execute(f"SELECT {ITEM_COLUMNS} FROM items LIMIT 0")
        conn.execute("SELECT order_id, sku, quantity, status, posted FROM orders LIMIT 0")
    except sqlite3.Error as error:
        conn.close()
        raise unreadable(error) from None
    if row is None:  # a generation that never finished: as good as missing
        conn.close()
        raise ConnectorError(MISSING)
    return conn


def info(path: Path) -> dict[str, object] | None:
    """The meta of a state file (numbers as int), or None when missing or unreadable."""
    try:
        conn = open_state(path)
    except ConnectorError:
        return None
    try:
        rows = conn.execute("SELECT key, value FROM meta").fetchall()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return {key: int(value) if value.lstrip("-").isdigit() else value for key, value in rows}


def encode_options(options: tuple[tuple[str, str], ...]) -> str:
    return ";".join(f"{name}={value}" for name, value in options)


@functools.lru_cache(maxsize=4096)  # a catalog has a few hundred distinct option sets
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


def _check_field(field: str) -> None:
    # Field names are put into SQL as column names: only the closed set may pass.
    if field not in FIELDS:
        raise ValueError(f"unknown field {field!r} (expected one of {', '.join(FIELDS)})")


def set_value(
    path: Path, side: Side, item_id: str, field: Field, value: int | Decimal | str | None
) -> None:
    """Change a value behind tui-sync's back (tests, demos), bumping its version like a vendor.

    LookupError if there is no such item; ValueError for a negative store quantity, which no
    store of this kind can hold.
    """
    _check_field(field)
    column = to_column(field, value)
    if side == "store" and field == "quantity" and isinstance(column, int) and column < 0:
        raise ValueError("the store cannot hold a negative quantity")
    conn = open_state(path)
    try:
        with conn:
            cursor = conn.execute(
                f"UPDATE items SET {field} = ?, version = version + 1 WHERE side = ? AND id = ?",
                (column, side, item_id),
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
    """The back office imports a store order: `posted_orders` reports it from now on."""
    conn = open_state(path)
    try:
        with conn:
            conn.execute("UPDATE orders SET posted = 1 WHERE order_id = ?", (order_id,))
    finally:
        conn.close()
