"""The sandbox BigCommerce store's state: a small seeded catalog and orders in one SQLite file.

Money is kept as decimal text and sent as JSON numbers written from that text (never a float).
Dates are ISO 8601 in UTC with `+00:00`, to the second, as the Catalog API shows them [S2].
Absolute inventory adjustments wait in `adjustments` until their time comes [S7]; once applied
they are kept in `applied_adjustments` with their `reason`, as the store keeps an adjustment's
reason [S6] (tui-sync tags its own with the run).
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS brands (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, sku TEXT NOT NULL, brand_id INTEGER NOT NULL,
    price TEXT NOT NULL, cost_price TEXT NOT NULL, inventory_level INTEGER NOT NULL,
    inventory_tracking TEXT NOT NULL, base_variant_id INTEGER, date_modified TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS variants (
    id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL, sku TEXT NOT NULL, price TEXT,
    cost_price TEXT, inventory_level INTEGER NOT NULL, option_values TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS variants_product ON variants (product_id);
CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, status_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS order_products (
    id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, product_id INTEGER NOT NULL,
    variant_id INTEGER NOT NULL, sku TEXT NOT NULL, quantity INTEGER NOT NULL,
    quantity_shipped INTEGER NOT NULL DEFAULT 0, quantity_refunded INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS adjustments (
    seq INTEGER PRIMARY KEY, due REAL NOT NULL, product_id INTEGER, variant_id INTEGER,
    quantity INTEGER NOT NULL, reason TEXT);
CREATE TABLE IF NOT EXISTS applied_adjustments (
    seq INTEGER PRIMARY KEY, applied TEXT NOT NULL, product_id INTEGER, variant_id INTEGER,
    quantity INTEGER NOT NULL, reason TEXT);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# Every value a write applied, item ids as the connector names them ("12", "12:34"): what the
# tests hold a sync's journal against (nothing lost, nothing doubled).
APPLIED = """
CREATE TABLE IF NOT EXISTS applied (
    seq INTEGER PRIMARY KEY, item_id TEXT NOT NULL, field TEXT NOT NULL, value TEXT);
"""

BRANDS = ("Northwind Apparel", "Ironclad", "Hearthside", "Bluebird", "Forge & Co")
NOUNS = ("Cotton Tee", "Claw Hammer", "Ceramic Mug", "Rain Shell", "Table Lamp", "Work Gloves")
COLORS = ("Red", "Navy", "Black")
SIZES = ("S", "M", "L")


def stamp(at: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return moment.replace(microsecond=0).isoformat()


def open_state(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")  # a test double: speed over durability
    conn.executescript(SCHEMA + APPLIED)
    return conn


def seed(conn: sqlite3.Connection, products: int = 300, seed_value: int = 9) -> None:
    """`products` products, a third with options (3 to 9 variants), and orders in every status."""
    rng = random.Random(seed_value)
    if products <= 0 or conn.execute("SELECT 1 FROM products LIMIT 1").fetchone():
        return  # none asked for, or a store already there (the sandbox pair's own catalog)
    start = time.time() - 86400
    with conn:
        conn.executemany("INSERT INTO brands VALUES (?, ?)", enumerate(BRANDS, 1))
        variant_id = 1
        for pid in range(1, products + 1):
            now = stamp(start + pid)  # one second apart, as if entered one by one
            noun = NOUNS[pid % len(NOUNS)]
            price = Decimal(rng.randint(400, 9900)) / 100
            cost = (price * Decimal("0.45")).quantize(Decimal("0.01"))
            brand = pid % len(BRANDS) + 1
            sku = f"BC-{pid:05d}"
            if pid % 3:
                conn.execute(
                    "INSERT INTO products VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (pid, f"{noun} {pid}", sku, brand, f"{price}", f"{cost}",
                     rng.randint(0, 40), "product", variant_id, now),
                )  # fmt: skip
                conn.execute(
                    "INSERT INTO variants VALUES (?,?,?,?,?,?,?)",
                    (variant_id, pid, sku, None, None, 0, "[]"),
                )
                variant_id += 1
                continue
            conn.execute(
                "INSERT INTO products VALUES (?,?,?,?,?,?,?,?,?,?)",
                (pid, f"{noun} {pid}", sku, brand, f"{price}", f"{cost}", 0, "variant", None,
                 now),
            )  # fmt: skip
            colors = COLORS[: rng.randint(1, 3)]
            for ci, color in enumerate(colors):
                for si, size in enumerate(SIZES):
                    options = [
                        {"id": 100 + ci, "label": color, "option_id": 10,
                         "option_display_name": "Color"},
                        {"id": 200 + si, "label": size, "option_id": 20,
                         "option_display_name": "Size"},
                    ]  # fmt: skip
                    own = None if (ci + si) % 2 else f"{price + si}"
                    conn.execute(
                        "INSERT INTO variants VALUES (?,?,?,?,?,?,?)",
                        (variant_id, pid, f"{sku}-{color[:3].upper()}-{size}", own, f"{cost}",
                         rng.randint(0, 25), json.dumps(options)),
                    )  # fmt: skip
                    variant_id += 1
        _seed_orders(conn)


def _seed_orders(conn: sqlite3.Connection) -> None:
    """One order per status id 0..14 on simple product 1 (SKU BC-00001), 2 each; order 111
    (status 11) has a second line, half shipped, on product 2."""
    for status in range(15):
        oid = 100 + status
        conn.execute("INSERT INTO orders VALUES (?, ?)", (oid, status))
        conn.execute(
            "INSERT INTO order_products (order_id, product_id, variant_id, sku, quantity) "
            "VALUES (?, 1, 1, 'BC-00001', 2)",
            (oid,),
        )
    conn.execute(
        "INSERT INTO order_products (order_id, product_id, variant_id, sku, quantity, "
        "quantity_shipped) VALUES (111, 2, 2, 'BC-00002', 4, 1)"
    )


def apply_due(conn: sqlite3.Connection) -> None:
    """Absolute adjustments whose time has come, in the order received [S7]."""
    now = time.time()
    due = conn.execute(
        "SELECT seq, product_id, variant_id, quantity, reason FROM adjustments WHERE due <= ? "
        "ORDER BY seq",
        (now,),
    ).fetchall()
    if not due:
        return
    with conn:
        for seq, pid, vid, quantity, reason in due:
            if vid is not None:
                conn.execute(
                    "UPDATE variants SET inventory_level = ? WHERE id = ?", (quantity, vid)
                )
                row = conn.execute(
                    "SELECT product_id FROM variants WHERE id = ?", (vid,)
                ).fetchone()
                pid = row[0] if row else None
            else:
                conn.execute(
                    "UPDATE products SET inventory_level = ? WHERE id = ?", (quantity, pid)
                )
            conn.execute("UPDATE products SET date_modified = ? WHERE id = ?", (stamp(), pid))
            conn.execute("DELETE FROM adjustments WHERE seq = ?", (seq,))
            # Numbered here, in the order applied: a pending adjustment's seq is reused by SQLite
            # once the table is empty, so it cannot name the applied one.
            conn.execute(
                "INSERT INTO applied_adjustments "
                "(applied, product_id, variant_id, quantity, reason) VALUES (?, ?, ?, ?, ?)",
                (stamp(), pid, vid, quantity, reason),
            )


def money_text(value: object) -> str:
    """Money as the store keeps it: a double, so 38.0000 comes back as 38.00 (two places at
    least, no trailing zeros beyond them), never the digits it was sent with."""
    amount = Decimal(str(value)).normalize()
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        amount = amount.quantize(Decimal("0.01"))
    return f"{amount:f}"


# An item's own columns by the connector's field names (a variant's name is its product's).
COLUMNS: dict[str, str] = {
    "quantity": "inventory_level",
    "price": "price",
    "cost": "cost_price",
    "sku": "sku",
    "name": "name",
}


def item_target(conn: sqlite3.Connection, item_id: str) -> tuple[str, int, int]:
    """(table, row id, product id) holding a store item's own values, the item named as the
    connector names it ("12" a product, "12:34" a variant); LookupError if there is none."""
    pid_text, _, vid_text = item_id.partition(":")
    try:
        pid = int(pid_text)
        vid = int(vid_text) if vid_text else None
    except ValueError:
        raise LookupError(f"no store item with id {item_id!r}") from None
    if vid is None:
        if not conn.execute("SELECT 1 FROM products WHERE id = ?", (pid,)).fetchone():
            raise LookupError(f"no store item with id {item_id!r}")
        return "products", pid, pid
    found = conn.execute("SELECT 1 FROM variants WHERE id = ? AND product_id = ?", (vid, pid))
    if not found.fetchone():
        raise LookupError(f"no store item with id {item_id!r}")
    return "variants", vid, pid


def set_item_value(conn: sqlite3.Connection, item_id: str, field: str, value: object) -> None:
    """Change one of an item's values as the control panel would (inside the caller's
    transaction), bumping its product's date_modified."""
    table, row_id, pid = item_target(conn, item_id)
    if field == "name":
        table, row_id = "products", pid
    stored: object = value
    if value is not None and field == "quantity":
        stored = int(str(value))
    elif value is not None and field in ("price", "cost"):
        stored = money_text(value)
    # The column comes from the closed mapping above, never from outside text.
    conn.execute(f"UPDATE {table} SET {COLUMNS[field]} = ? WHERE id = ?", (stored, row_id))
    conn.execute("UPDATE products SET date_modified = ? WHERE id = ?", (stamp(), pid))


def num(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def variant_json(row: sqlite3.Row | tuple[Any, ...], product: tuple[Any, ...]) -> dict[str, Any]:
    vid, pid, sku, price, cost, level, options = row
    base = product[8] == vid
    return {
        "id": vid,
        "product_id": pid,
        "sku": sku,
        "sku_id": None if base else vid + 1000,
        "price": num(price),
        "calculated_price": num(price) if price is not None else num(product[4]),
        "cost_price": num(cost),
        "inventory_level": product[6] if base else level,
        "option_values": json.loads(options),
        "purchasing_disabled": False,
    }


def product_json(row: tuple[Any, ...], variants: list[tuple[Any, ...]] | None) -> dict[str, Any]:
    pid, name, sku, brand_id, price, cost, level, tracking, base_variant, modified = row
    body: dict[str, Any] = {
        "id": pid,
        "name": name,
        "type": "physical",
        "sku": sku,
        "price": Decimal(price),
        "cost_price": Decimal(cost),
        "brand_id": brand_id,
        "inventory_level": level
        if tracking == "product"
        else sum(v[5] for v in variants or [] if v[0] != base_variant),
        "inventory_tracking": tracking,
        "base_variant_id": base_variant,
        "date_modified": modified,
        "is_visible": True,
        "availability": "available",
    }
    if variants is not None:
        body["variants"] = [variant_json(v, row) for v in variants]
    return body
