"""What happens to the sandbox pair's vendors outside tui-sync, for tests, the bench and demos:
a seller editing in BigCommerce's control panel, a bookkeeper in QuickBooks, an order posted,
an item deleted; and what the vendors hold and were sent, read straight from their state.

Items are named as the connectors name them: store `"{product}"` (a product without options,
or a base) and `"{product}:{variant}"`; back office the QuickBooks item `Id`. Every change
bumps what the vendor bumps (BigCommerce's `date_modified`, QuickBooks' `SyncToken` and
`LastUpdatedTime`), so incremental reads and conflict checks see it as they would for real.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from tui_sync import money
from tui_sync.connectors.qbo_wire import dumps, loads
from tui_sync.model import Field, Side
from tui_sync.sandbox import bigcommerce_state as bc
from tui_sync.sandbox import state

QBO_FIELDS: dict[str, str] = {"quantity": "QtyOnHand", "price": "UnitPrice", "cost": "PurchaseCost"}
Values = tuple[str | None, str | None, str | None]  # quantity, price, cost as text


@contextmanager
def _store(data_dir: Path) -> Iterator[sqlite3.Connection]:
    conn = bc.open_state(state.store_path(data_dir))
    try:
        # Adjustments the store accepted are as good as applied: it only shows them later.
        conn.execute("UPDATE adjustments SET due = 0")
        bc.apply_due(conn)
        yield conn
    finally:
        conn.close()


@contextmanager
def _books(data_dir: Path) -> Iterator[sqlite3.Connection]:
    from tui_sync.sandbox.qbo_state import BUSY_TIMEOUT_S

    conn = sqlite3.connect(state.books_path(data_dir), timeout=BUSY_TIMEOUT_S)
    try:
        yield conn
    finally:
        conn.close()


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


def values(data_dir: Path) -> dict[tuple[Side, str], Values]:
    """(side, item id) -> (quantity, price, cost) as each vendor holds them now."""
    found: dict[tuple[Side, str], Values] = {}
    with _store(data_dir) as conn:
        products = {
            r[0]: r for r in conn.execute("SELECT id, price, cost_price, inventory_level, "
                                          "inventory_tracking, base_variant_id FROM products")
        }  # fmt: skip
        for pid, price, cost, level, tracking, _base in products.values():
            if tracking == "product":
                found[("store", str(pid))] = (_text(level), price, cost)
            else:
                found[("store", str(pid))] = (None, None, None)
        for vid, pid, price, cost, level in conn.execute(
            "SELECT id, product_id, price, cost_price, inventory_level FROM variants"
        ):
            product = products.get(pid)
            if product is None or product[5] == vid:
                continue  # a simple product's base variant is the product itself
            found[("store", f"{pid}:{vid}")] = (
                _text(level),
                price if price is not None else product[1],
                cost if cost is not None else product[2],
            )
    with _books(data_dir) as conn:
        for item_id, body in conn.execute("SELECT id, body FROM items"):
            item = loads(body)
            found[("backoffice", str(item_id))] = (
                _text(item.get("QtyOnHand")),
                _text(item.get("UnitPrice")),
                _text(item.get("PurchaseCost")),
            )
    return found


def skus(data_dir: Path, side: Side) -> dict[str, str | None]:
    """Item id -> SKU of every item of a side that holds stock (bases left out), in order."""
    found: dict[str, str | None] = {}
    if side == "backoffice":
        with _books(data_dir) as conn:
            for item_id, body in conn.execute(
                "SELECT id, body FROM items WHERE type = 'Inventory' AND active ORDER BY id"
            ):
                found[str(item_id)] = loads(body).get("Sku")
        return found
    with _store(data_dir) as conn:
        for pid, sku in conn.execute(
            "SELECT id, sku FROM products WHERE inventory_tracking = 'product' ORDER BY id"
        ):
            found[str(pid)] = sku
        for vid, pid, sku in conn.execute(
            "SELECT v.id, v.product_id, v.sku FROM variants v JOIN products p "
            "ON p.id = v.product_id WHERE p.inventory_tracking = 'variant' ORDER BY v.id"
        ):
            found[f"{pid}:{vid}"] = sku
    return found


def value(data_dir: Path, side: Side, item_id: str, field: Field) -> str | None:
    held = values(data_dir).get((side, item_id))
    if held is None:
        raise LookupError(f"no {side} item with id {item_id!r}")
    return held[("quantity", "price", "cost").index(field)]


def _books_change(data_dir: Path, item_id: str, **fields: Any) -> None:
    _books_changes(data_dir, {item_id: fields})


def _books_changes(data_dir: Path, changes: Mapping[str, Mapping[str, Any]]) -> None:
    with _books(data_dir) as conn, conn:
        for item_id, fields in changes.items():
            row = conn.execute(
                "SELECT body FROM items WHERE id = ?", (_qbo_id(item_id),)
            ).fetchone()
            if row is None:
                raise LookupError(f"no backoffice item with id {item_id!r}")
            item = loads(row[0])
            item.update(fields)
            item["SyncToken"] = str(int(item["SyncToken"]) + 1)
            conn.execute(
                "UPDATE items SET body = ?, updated = ?, active = ? WHERE id = ?",
                (dumps(item), time.time(), int(bool(item.get("Active", True))), int(item_id)),
            )


def _qbo_id(item_id: str) -> int:
    try:
        return int(item_id)
    except ValueError:
        raise LookupError(f"no backoffice item with id {item_id!r}") from None


def set_value(
    data_dir: Path, side: Side, item_id: str, field: Field, new: int | Decimal | str | None
) -> None:
    """Change a value behind tui-sync's back, as someone in the vendor's own UI would."""
    set_values(data_dir, side, field, {item_id: new})


def set_values(
    data_dir: Path, side: Side, field: Field, new: Mapping[str, int | Decimal | str | None]
) -> None:
    """Change one field of many items behind tui-sync's back, in one transaction."""
    if side == "backoffice":

        def parsed(value: int | Decimal | str | None) -> object:
            if field == "quantity":
                return money.parse_quantity(value)
            return money.parse_money(value)

        _books_changes(data_dir, {i: {QBO_FIELDS[field]: parsed(v)} for i, v in new.items()})
        return
    with _store(data_dir) as conn, conn:
        for item_id, value in new.items():
            bc.set_item_value(conn, item_id, field, value)


def set_text(
    data_dir: Path, side: Side, item_id: str, column: Literal["sku", "name", "brand"], text: str
) -> None:
    """Change an item's SKU, name or brand behind tui-sync's back (tests plant hostile text).
    A store variant has no name or brand of its own: its product's change. QuickBooks items
    have no brand."""
    if side == "backoffice":
        if column == "brand":
            raise ValueError("a QuickBooks item has no brand")
        _books_change(data_dir, item_id, **{"Sku" if column == "sku" else "Name": text})
        return
    with _store(data_dir) as conn, conn:
        if column != "brand":
            bc.set_item_value(conn, item_id, column, text)
            return
        _, _, pid = bc.item_target(conn, item_id)
        found = conn.execute("SELECT id FROM brands WHERE name = ?", (text,)).fetchone()
        if found is None:
            (last,) = conn.execute("SELECT coalesce(max(id), 0) FROM brands").fetchone()
            conn.execute("INSERT INTO brands VALUES (?, ?)", (last + 1, text))
            found = (last + 1,)
        conn.execute(
            "UPDATE products SET brand_id = ?, date_modified = ? WHERE id = ?",
            (found[0], bc.stamp(), pid),
        )


def delete_item(data_dir: Path, side: Side, item_id: str) -> None:
    """Remove an item, as a seller deletes it (a store) or makes it inactive (QuickBooks, which
    never deletes an item)."""
    if side == "backoffice":
        _books_change(data_dir, item_id, Active=False)
        return
    with _store(data_dir) as conn, conn:
        table, row_id, pid = bc.item_target(conn, item_id)
        if table == "products":
            conn.execute("DELETE FROM variants WHERE product_id = ?", (pid,))
            conn.execute("DELETE FROM products WHERE id = ?", (pid,))
        else:
            conn.execute("DELETE FROM variants WHERE id = ?", (row_id,))
            conn.execute("UPDATE products SET date_modified = ? WHERE id = ?", (bc.stamp(), pid))


def post_order(data_dir: Path, order_id: str, entity: str = "SalesReceipt") -> None:
    """The back office imports a store order: a sales document whose DocNumber is its number."""
    with _books(data_dir) as conn, conn:
        (last,) = conn.execute("SELECT coalesce(max(id), 0) FROM docs").fetchone()
        doc = {"Id": str(last + 1), "SyncToken": "0", "DocNumber": order_id,
               "TxnDate": "2026-11-20"}  # fmt: skip
        conn.execute(
            "INSERT INTO docs VALUES (?, ?, ?, ?, ?)",
            (entity, last + 1, order_id, time.time(), dumps(doc)),
        )


def pending_orders(data_dir: Path) -> list[tuple[str, str, int]]:
    """(order id, SKU, quantity) of every store order line, in order."""
    with _store(data_dir) as conn:
        return [
            (str(o), str(s), int(q))
            for o, s, q in conn.execute(
                "SELECT order_id, sku, quantity FROM order_products ORDER BY id"
            )
        ]


def applied_writes(data_dir: Path) -> list[tuple[Side, str, str, str | None]]:
    """Every write the two vendors applied: (side, item id, field, value), in order."""
    found: list[tuple[Side, str, str, str | None]] = []
    with _store(data_dir) as conn:
        found.extend(
            ("store", str(i), str(f), None if v is None else str(v))
            for i, f, v in conn.execute("SELECT item_id, field, value FROM applied ORDER BY seq")
        )
    with _books(data_dir) as conn:
        found.extend(
            ("backoffice", str(i), str(f), None if v is None else str(v))
            for i, f, v in conn.execute("SELECT item_id, field, value FROM applied ORDER BY seq")
        )
    return found


def write_calls(data_dir: Path) -> int:
    """Write requests the store has received, over every process that served it."""
    with _store(data_dir) as conn:
        row = conn.execute("SELECT value FROM counters WHERE name = 'write_calls'").fetchone()
    return int(row[0]) if row else 0
