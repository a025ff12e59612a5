"""The sandbox QuickBooks company: items and sales documents in SQLite, a seed, and the small
part of the query language that the connector sends.

Items are kept as the JSON QBO returns (money as exact decimals), with `SyncToken` bumped on
every change and `MetaData.LastUpdatedTime` in the company's time zone (-08:00, as Intuit's
sandbox companies), so paging, incremental reads and stale-token checks behave as documented
(CONNECTORS.md 3.3-3.5). Queries: `SELECT * | COUNT(*) | fields FROM Item | SalesReceipt |
Invoice [WHERE f = v AND f IN (...) AND MetaData.LastUpdatedTime > '...'] [STARTPOSITION n]
[MAXRESULTS m]`; STARTPOSITION counts from 1, MAXRESULTS defaults to 100 and is capped at 1000;
an Item query that does not filter on `Active` returns active items only (QBO's default).
"""

from __future__ import annotations

import random
import re
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from tui_sync.connectors.qbo_wire import dumps, loads

COMPANY_TZ = timezone(timedelta(hours=-8))
ENTITIES = ("Item", "SalesReceipt", "Invoice")
DEFAULT_MAX, MAX_MAX = 100, 1000
BUSY_TIMEOUT_S = 10.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY, type TEXT NOT NULL, active INTEGER NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS applied (
    seq INTEGER PRIMARY KEY, item_id TEXT NOT NULL, field TEXT NOT NULL, value TEXT);
CREATE TABLE IF NOT EXISTS docs (
    entity TEXT NOT NULL, id INTEGER NOT NULL, doc_number TEXT, updated REAL NOT NULL,
    body TEXT NOT NULL
);
"""


class QueryError(ValueError):
    """A query the sandbox (and, as far as documented, QBO) cannot parse: Fault 4000."""


def stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, COMPANY_TZ).isoformat(timespec="milliseconds")


_LITERAL = r"'(?:[^'\\]|\\.)*'|true|false|-?\d+"
_COND = re.compile(
    rf"\s*(?P<field>[A-Za-z][\w.]*)\s*(?P<op>>=|<=|=|>|<|\bIN\b)\s*"
    rf"(?P<value>\(\s*(?:{_LITERAL})(?:\s*,\s*(?:{_LITERAL}))*\s*\)|{_LITERAL})\s*",
    re.IGNORECASE,
)
_SELECT = re.compile(
    r"\s*SELECT\s+(?P<what>\*|COUNT\(\*\)|[A-Za-z][\w.]*(?:\s*,\s*[A-Za-z][\w.]*)*)\s+"
    r"FROM\s+(?P<entity>\w+)(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_TAIL = re.compile(
    r"(?:\s+STARTPOSITION\s+(?P<start>\d+))?(?:\s+MAXRESULTS\s+(?P<max>\d+))?\s*$", re.IGNORECASE
)


def _literal(text: str) -> object:
    if text.startswith("'"):
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return int(text)


def parse_query(query: str) -> dict[str, Any]:
    match = _SELECT.match(query)
    if not match:
        raise QueryError("expected SELECT ... FROM entity")
    entity = next((e for e in ENTITIES if e.lower() == match["entity"].lower()), None)
    if entity is None:
        raise QueryError(f"unsupported entity {match['entity']}")
    rest = match["rest"]
    tail = _TAIL.search(rest)
    assert tail is not None  # every part of the tail is optional
    head = rest[: tail.start()]
    conds: list[tuple[str, str, object]] = []
    where = re.match(r"\s+WHERE\s+", head, re.IGNORECASE)
    if where:
        text = head[where.end() :]
        while True:
            cond = _COND.match(text)
            if not cond:
                raise QueryError(f"cannot parse the condition at {text[:40]!r}")
            raw = cond["value"]
            value: object = (
                [_literal(v) for v in re.findall(_LITERAL, raw[1:-1], re.IGNORECASE)]
                if raw.startswith("(")
                else _literal(raw)
            )
            conds.append((cond["field"], cond["op"].upper(), value))
            text = text[cond.end() :]
            if not text.strip():
                break
            more = re.match(r"AND\s+", text, re.IGNORECASE)
            if not more:
                raise QueryError(f"expected AND at {text[:40]!r}")
            text = text[more.end() :]
    elif head.strip():
        raise QueryError(f"unexpected {head.strip()[:40]!r}")
    start = int(tail["start"] or 1)
    if start < 1:
        raise QueryError("STARTPOSITION counts from 1")
    return {
        "what": match["what"],
        "entity": entity,
        "where": conds,
        "start": start,
        "max": min(int(tail["max"] or DEFAULT_MAX), MAX_MAX),
    }


class Company:
    """One realm's data; thread-safe (the server answers from a thread pool)."""

    def __init__(self, path: Path) -> None:
        # WAL and a busy timeout: the console's process and a CLI sync may serve the same
        # company at once, each from its own server.
        self.conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S
        )
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.executescript(SCHEMA)
        self.lock = threading.RLock()

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    # --- items ------------------------------------------------------------------------------

    def render(self, row: tuple[Any, ...]) -> dict[str, Any]:
        _id, _type, _active, created, updated, body = row
        item: dict[str, Any] = loads(body)
        item["MetaData"] = {"CreateTime": stamp(created), "LastUpdatedTime": stamp(updated)}
        return item

    def item(self, item_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.conn.execute("SELECT * FROM items WHERE id = ?", (_int(item_id),)).fetchone()
        return None if row is None else self.render(row)

    def put_item(self, item: dict[str, Any], when: float | None = None) -> dict[str, Any]:
        """Store an item (bumping nothing: callers set SyncToken)."""
        now = time.time() if when is None else when
        body = {k: v for k, v in item.items() if k != "MetaData"}
        with self.lock:
            old = self.conn.execute(
                "SELECT created FROM items WHERE id = ?", (int(item["Id"]),)
            ).fetchone()
            self.conn.execute(
                "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?)",
                (
                    int(item["Id"]),
                    item.get("Type", "Inventory"),
                    int(bool(item.get("Active", True))),
                    old[0] if old else now,
                    now,
                    dumps(body),
                ),
            )
        found = self.item(str(item["Id"]))
        assert found is not None
        return found

    def applied(self, item_id: str, field: str, value: object) -> None:
        """Record a value a write applied (the tests hold a journal against these)."""
        text = None if value is None else f"{value:f}" if isinstance(value, Decimal) else str(value)
        with self.lock:
            self.conn.execute(
                "INSERT INTO applied (item_id, field, value) VALUES (?, ?, ?)",
                (item_id, field, text),
            )

    def change(self, item_id: str, **fields: Any) -> dict[str, Any]:
        """Change an item behind the client's back, as a bookkeeper in QBO's UI would."""
        with self.lock:
            item = self.item(item_id)
            if item is None:
                raise LookupError(item_id)
            item.update(fields)
            item["SyncToken"] = str(int(item["SyncToken"]) + 1)
            return self.put_item(item)

    # --- queries ----------------------------------------------------------------------------

    def query(self, text: str) -> dict[str, Any]:
        q = parse_query(text)
        entity = q["entity"]
        count = q["what"].upper() == "COUNT(*)"
        if entity == "Item":
            # Items: filtered (and paged, when SQL can say every condition) by SQL first, so a
            # page of a 100k catalog does not decode every item (bench/http_path.py).
            rows, paged = self._items(q["where"], None if count else (q["start"], q["max"]))
        else:
            rows, paged = self._rows(entity, q["where"]), False
        if count:
            return {"totalCount": len(rows)}
        page = rows if paged else rows[q["start"] - 1 : q["start"] - 1 + q["max"]]
        if not page:
            return {}  # QBO answers an empty QueryResponse, without the entity key
        return {entity: page, "startPosition": q["start"], "maxResults": len(page)}

    def _items(
        self, where: list[tuple[str, str, object]], window: tuple[int, int] | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """Items matching `where` (the same rules as `_rows`), and whether `window` (start,
        max) was applied in SQL: only when SQL decided every condition exactly."""
        sql: list[str] = ["1"]
        args: list[object] = []
        exact = True
        if not any(f.lower() == "active" for f, _, _ in where):
            sql.append("active = 1")
        for field, op, value in where:
            values = value if isinstance(value, list) else [value]
            if field == "Active" and op == "=" and isinstance(value, bool):
                sql.append("active = ?")
                args.append(int(value))
            elif (
                field == "Id"
                and op in ("=", "IN")
                and all(isinstance(v, str | int) and str(v).isdigit() for v in values)
            ):
                # QBO ids are strings of digits; any other value matches nothing.
                sql.append(f"id IN ({','.join('?' * len(values))})")
                args.extend(int(str(v)) for v in values)
            elif field == "Type" and op in ("=", "IN") and all(isinstance(v, str) for v in values):
                sql.append(f"type IN ({','.join('?' * len(values))})")
                args.extend(values)
            elif (
                field == "MetaData.LastUpdatedTime" and op in (">", ">=") and isinstance(value, str)
            ):
                when = datetime.fromisoformat(value)
                if when.tzinfo is None:
                    when = when.replace(tzinfo=COMPANY_TZ)
                # Rendered to the millisecond: a margin, and the exact test below decides.
                sql.append("updated > ?")
                args.append(when.timestamp() - 0.002)
                exact = False
            else:
                exact = False
        query = f"SELECT * FROM items WHERE {' AND '.join(sql)} ORDER BY id"
        paged = exact and window is not None
        if paged and window is not None:
            query += " LIMIT ? OFFSET ?"
            args += [window[1], window[0] - 1]
        with self.lock:
            rows = [self.render(r) for r in self.conn.execute(query, args)]
        for field, op, value in where:
            rows = [r for r in rows if _matches(r, field, op, value)]
        return rows, paged

    def _rows(self, entity: str, where: list[tuple[str, str, object]]) -> list[dict[str, Any]]:
        with self.lock:
            if entity == "Item":
                rows = [
                    self.render(r) for r in self.conn.execute("SELECT * FROM items ORDER BY id")
                ]
            else:
                rows = [
                    loads(b)
                    for (b,) in self.conn.execute(
                        "SELECT body FROM docs WHERE entity = ? ORDER BY id", (entity,)
                    )
                ]
        if entity == "Item" and not any(f.lower() == "active" for f, _, _ in where):
            rows = [r for r in rows if r.get("Active", True)]
        for field, op, value in where:
            rows = [r for r in rows if _matches(r, field, op, value)]
        return rows

    # --- sales documents --------------------------------------------------------------------

    def add_doc(self, entity: str, doc_id: int, doc_number: str) -> None:
        body: dict[str, object] = {
            "Id": str(doc_id),
            "SyncToken": "0",
            "DocNumber": doc_number,
            "TxnDate": "2026-11-20",
        }
        body["TotalAmt"] = Decimal("10.00")
        with self.lock:
            self.conn.execute(
                "INSERT INTO docs VALUES (?, ?, ?, ?, ?)",
                (entity, doc_id, doc_number, time.time(), dumps(body)),
            )


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return -1


def _field(row: dict[str, Any], field: str) -> object:
    value: object = row
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _matches(row: dict[str, Any], field: str, op: str, value: object) -> bool:
    have = _field(row, field)
    if field == "Active" and have is None:
        have = True
    if op == "IN":
        return isinstance(value, list) and str(have) in {str(v) for v in value} | (
            {have} if isinstance(have, bool) and have in value else set()
        )
    if field.endswith("Time") and isinstance(have, str) and isinstance(value, str):
        left, right = datetime.fromisoformat(have), datetime.fromisoformat(value)
        if right.tzinfo is None:
            right = right.replace(tzinfo=COMPANY_TZ)
        return _compare(left.astimezone(UTC), op, right.astimezone(UTC))
    if isinstance(have, bool) or isinstance(value, bool):
        return op == "=" and have == value
    return _compare(str(have), op, str(value))


def _compare(a: Any, op: str, b: Any) -> bool:
    return bool({"=": a == b, ">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op])


def seed(company: Company, size: int = 300, rng_seed: int = 9) -> None:
    """A few hundred items: inventory (a few fractional quantities, a few inactive), groups
    of three components, non-inventory, services, categories; and SalesReceipts and Invoices
    whose DocNumbers are store order numbers 1001-1005 and 2001-2005."""
    rng = random.Random(rng_seed)
    day_ago = time.time() - 86400
    account = {"IncomeAccountRef": {"value": "79", "name": "Sales of Product Income"}}
    n = 0

    def put(item: dict[str, Any]) -> None:
        nonlocal n
        n += 1
        company.put_item({"Id": str(n), "SyncToken": "0", "Active": True, **item}, day_ago)

    for i in range(1, size + 1):
        qty: Decimal | int = rng.randint(-3, 80)
        if i % 50 == 0:
            qty = Decimal(f"{rng.randint(1, 40)}.5")
        put(
            {
                "Name": f"Widget {i:04d}",
                "Sku": f"W-{i:04d}",
                "Type": "Inventory",
                "TrackQtyOnHand": True,
                "QtyOnHand": qty,
                "UnitPrice": Decimal(rng.randint(199, 9999)) / 100,
                "PurchaseCost": Decimal(rng.randint(100, 5000)) / 100,
                "InvStartDate": "2026-01-01",
                "Active": i % 97 != 0,
                **account,
            }
        )
    for g in range(1, 11):
        lines = [
            {"ItemRef": {"value": str(3 * g + k), "name": f"Widget {3 * g + k:04d}"}, "Qty": 1}
            for k in range(3)
        ]
        put({"Name": f"Bundle {g:02d}", "Sku": f"G-{g:02d}", "Type": "Group",
             "ItemGroupDetail": {"ItemGroupLine": lines}})  # fmt: skip
    for i in range(1, 21):
        put({"Name": f"Gift card {i:02d}", "Sku": f"N-{i:02d}", "Type": "NonInventory",
             "TrackQtyOnHand": False, "UnitPrice": Decimal(i * 5), **account})  # fmt: skip
    for name in ("Gift wrapping", "Engraving", "Assembly"):
        put({"Name": name, "Type": "Service", "UnitPrice": Decimal("4.50"), **account})
    for name in ("Widgets", "Bundles"):
        put({"Name": name, "Type": "Category"})
    for k in range(1, 6):
        company.add_doc("SalesReceipt", k, str(1000 + k))
        company.add_doc("Invoice", 100 + k, str(2000 + k))
