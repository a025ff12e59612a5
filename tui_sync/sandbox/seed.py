"""The sandbox catalog, laid out as the two vendors hold it: a BigCommerce store and a
QuickBooks Online company, each in its own SQLite file, served over HTTP by their sandbox
servers (`bigcommerce_api`, `quickbooks_api`).

`catalog.generate` draws the catalog (the same SKUs and deliberate discrepancies at every size)
into a scratch file; this streams it into the vendors' own shapes:

- store: a product without options is one BigCommerce product (tracked by product, one base
  variant without option values); a base with variants is a product tracked by variant whose
  variants carry Color/Size option values; brands are BigCommerce brands; store orders are
  v2 orders with their order lines. Posted orders keep a pending status on every other one
  ("Awaiting Shipment", already invoiced): the back office has taken their stock already, so
  only its SalesReceipt or Invoice tells the sync they are not pending.
- back office: inventory items (QtyOnHand, UnitPrice, PurchaseCost; negative quantities kept),
  a base as a Group item whose ItemGroupDetail lines are its variants, and one SalesReceipt or
  Invoice per posted store order, its DocNumber the order number.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from tui_sync.connectors.bigcommerce_wire import STATUSES
from tui_sync.connectors.qbo_wire import dumps
from tui_sync.sandbox import bigcommerce_state, qbo_state
from tui_sync.sandbox.catalog import decode_options

CHUNK = 5000
STATUS_IDS = {name: status for status, name in STATUSES.items()}
OPTION_IDS = {"Color": 10, "Size": 20}
INCOME = {"value": "79", "name": "Sales of Product Income"}
ASSET = {"value": "81", "name": "Inventory Asset"}
EXPENSE = {"value": "80", "name": "Cost of Goods Sold"}
# A hostile name every this many store items (and back-office ones, offset): text a console
# must show inert, as a real catalog someday holds.
HOSTILE_EVERY = 397
HOSTILE = (
    "\x1b[31m{name}\x1b[0m",
    "{name} [bold]x[/bold]",
    "{name}\u202e",
    "{name} \x07\x00",
)

_Row = tuple[Any, ...]


def _rows(catalog: sqlite3.Connection, side: str) -> Iterator[_Row]:
    """(id, sku, name, brand, quantity, price, cost, parent_id, is_base, options) in order."""
    cursor = catalog.execute(
        "SELECT id, sku, name, brand, quantity, price, cost, parent_id, is_base, options "
        "FROM items WHERE side = ? ORDER BY rowid",
        (side,),
    )
    while True:
        chunk = cursor.fetchmany(CHUNK)
        if not chunk:
            return
        yield from chunk


def _hostile(name: str, index: int) -> str:
    if index % HOSTILE_EVERY:
        return name
    return HOSTILE[(index // HOSTILE_EVERY) % len(HOSTILE)].format(name=name)


def _orders(catalog: sqlite3.Connection) -> list[tuple[str, str, int, str, int]]:
    return [
        (str(o), str(s), int(q), str(st), int(p))
        for o, s, q, st, p in catalog.execute(
            "SELECT order_id, sku, quantity, status, posted FROM orders ORDER BY rowid"
        )
    ]


def _status(order_id: str, status: str, posted: int) -> int:
    if posted and int(order_id) % 2:
        return STATUS_IDS["Awaiting Shipment"]
    return STATUS_IDS[status]


def bigcommerce(catalog: sqlite3.Connection, path: Path) -> None:
    """The store side of `catalog` as a BigCommerce store's state at `path`."""
    conn = bigcommerce_state.open_state(path)
    try:
        _bigcommerce(catalog, conn)
    finally:
        conn.close()


def _bigcommerce(catalog: sqlite3.Connection, conn: sqlite3.Connection) -> None:
    orders = _orders(catalog)
    ordered = {sku for _, sku, _, _, _ in orders}
    where: dict[str, tuple[int, int]] = {}  # SKU -> (product id, variant id) of ordered SKUs
    brands: dict[str, int] = {}
    labels: dict[tuple[str, str], int] = {}
    products: list[_Row] = []
    variants: list[_Row] = []
    # One second apart, as if entered one by one, all before anything a sync does.
    start = time.time() - 86400 * 30

    def brand_id(name: str | None) -> int:
        if not name:
            return 0
        if name not in brands:
            brands[name] = len(brands) + 1
        return brands[name]

    def flush() -> None:
        conn.executemany("INSERT INTO products VALUES (?,?,?,?,?,?,?,?,?,?)", products)
        conn.executemany("INSERT INTO variants VALUES (?,?,?,?,?,?,?)", variants)
        products.clear()
        variants.clear()

    with conn:
        for index, row in enumerate(_rows(catalog, "store")):
            item_id, sku, name, brand, quantity, price, cost, parent, is_base, options = row
            name = _hostile(str(name), index)
            pid_text, _, vid_text = str(item_id).partition(":")
            pid = int(pid_text)
            stamp = bigcommerce_state.stamp(start + index)
            if is_base:
                products.append(
                    (pid, name, sku, brand_id(brand), price or "0.00", "0.00", 0, "variant",
                     None, stamp)
                )  # fmt: skip
            elif parent is None:
                vid = int(vid_text)  # the catalog names a simple item "product:variant"
                products.append(
                    (pid, name, sku, brand_id(brand), price, cost or "0.00", int(quantity or 0),
                     "product", vid, stamp)
                )  # fmt: skip
                variants.append((vid, pid, sku, None, None, 0, "[]"))
                if sku in ordered:
                    where[sku] = (pid, vid)
            else:
                vid = int(vid_text)
                values = []
                for option, label in decode_options(options):
                    key = (option, label)
                    labels.setdefault(key, 100 + len(labels))
                    values.append(
                        {"id": labels[key], "label": label,
                         "option_id": OPTION_IDS.get(option, 30), "option_display_name": option}
                    )  # fmt: skip
                variants.append(
                    (vid, pid, sku, price, cost, int(quantity or 0), json.dumps(values))
                )
                if sku in ordered:
                    where[sku] = (pid, vid)
            if len(products) + len(variants) >= CHUNK:
                flush()
        flush()
        conn.executemany("INSERT INTO brands VALUES (?, ?)", [(i, n) for n, i in brands.items()])
        seen: set[str] = set()
        for order_id, sku, quantity, status, posted in orders:
            if order_id not in seen:
                seen.add(order_id)
                conn.execute(
                    "INSERT INTO orders VALUES (?, ?)",
                    (int(order_id), _status(order_id, status, posted)),
                )
            pid, vid = where.get(sku, (0, 0))
            conn.execute(
                "INSERT INTO order_products (order_id, product_id, variant_id, sku, quantity) "
                "VALUES (?, ?, ?, ?, ?)",
                (int(order_id), pid, vid, sku, quantity),
            )


def quickbooks(catalog: sqlite3.Connection, path: Path) -> None:
    """The back-office side of `catalog` as a QuickBooks Online company's state at `path`."""
    company = qbo_state.Company(path)
    try:
        _quickbooks(catalog, company.conn)
    finally:
        company.close()


def _money(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _quickbooks(catalog: sqlite3.Connection, conn: sqlite3.Connection) -> None:
    created = time.time() - 86400 * 30
    rows: list[tuple[int, str, int, float, float, str]] = []
    group: tuple[dict[str, Any], float] | None = None  # the base being filled, and its stamp

    def put(body: dict[str, Any], when: float) -> None:
        rows.append((int(body["Id"]), body["Type"], 1, when, when, dumps(body)))
        if len(rows) >= CHUNK:
            conn.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)", rows)
            rows.clear()

    conn.execute("BEGIN")
    for index, row in enumerate(_rows(catalog, "backoffice")):
        item_id, sku, name, _brand, quantity, price, cost, parent, is_base, _options = row
        name = _hostile(str(name), index + HOSTILE_EVERY // 2)
        when = created + index
        body: dict[str, Any] = {"Id": str(item_id), "SyncToken": "0", "Active": True}
        if sku is not None:
            body["Sku"] = sku
        if is_base:
            if group is not None:
                put(*group)
            body.update(Name=name, Type="Group", ItemGroupDetail={"ItemGroupLine": []})
            group = (body, when)
            continue
        body.update(
            Name=name,
            Type="Inventory",
            TrackQtyOnHand=True,
            QtyOnHand=int(quantity or 0),
            UnitPrice=_money(price),
            PurchaseCost=_money(cost),
            InvStartDate="2026-01-01",
            IncomeAccountRef=INCOME,
            AssetAccountRef=ASSET,
            ExpenseAccountRef=EXPENSE,
        )
        put({k: v for k, v in body.items() if v is not None}, when)
        # A group's variants follow it in the catalog, before the next base.
        if group is not None and parent == group[0]["Id"]:
            line = {"ItemRef": {"value": str(item_id), "name": name}, "Qty": 1}
            group[0]["ItemGroupDetail"]["ItemGroupLine"].append(line)
    if group is not None:
        put(*group)
    conn.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)", rows)
    posted = sorted({o for o, _, _, _, p in _orders(catalog) if p}, key=int)
    for n, order_id in enumerate(posted, 1):
        entity = "SalesReceipt" if n % 2 else "Invoice"
        doc = {"Id": str(n), "SyncToken": "0", "DocNumber": order_id, "TxnDate": "2026-11-20"}
        conn.execute(
            "INSERT INTO docs VALUES (?, ?, ?, ?, ?)", (entity, n, order_id, created, dumps(doc))
        )
    conn.execute("COMMIT")
