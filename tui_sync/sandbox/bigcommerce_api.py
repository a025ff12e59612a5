"""A local server that speaks BigCommerce's REST API as documented, for the calls we make.

`BigCommerceSandbox(path, token, store_hash).app` is an ASGI app (run it with
`sandbox.server.serving`). It serves, under `/stores/{store_hash}`:
- `GET /v3/catalog/products` (`include=variants`, `id:in`, `date_modified:min`, `page`/`limit`
  with the `{data, meta.pagination}` envelope) [S2] and `PUT /v3/catalog/products` (10 a call,
  413 over it) [S2];
- `PUT /v3/catalog/variants` (50 a call, 413 over it, 422 `batch_errors` that reject the whole
  call) [S3]; `GET /v3/catalog/brands` [S4];
- `PUT /v3/inventory/adjustments/absolute`, applied asynchronously (`adjust_delay` seconds
  later, as [S7] warns), refusing a negative level and the wrong identity for the item's
  tracking (the 422 example of [S6]);
- `GET /v2/orders?status_id=` (a bare array, 204 when empty) and `/v2/orders/{id}/products` [S9].
Every request is validated against the official spec first (`bigcommerce_spec`): an invalid one
is answered 422 and kept in `spec_errors`, which the tests assert empty. Every answer carries the
`X-Rate-Limit-*` headers of [S5]; past the quota of a window it is a 429. A wrong token is a 401.

Fault switches (`faults`, all off by default, set by tests): `latency_ms`, `fail_5xx` (the next
N requests answer 500), `storm` (the next N answer 429; `storm_style` `reset`, `window` or
`retry` picks which headers say when to come back), `throttle_writes` (the next N writes answer
429), `lose_write` (the next N writes are applied, then the connection closes without an
answer), `malformed` (the next N reads answer a cut JSON body), `reject_variant` (a variants
batch holding this id is refused, 422), `reject_sku` (every write to the item with this SKU is
refused, 422), `empty_200` (an empty orders page is `200 []` rather than 204), and, counting
write calls in the state (so over every process that serves it): `lose_at` (the Nth write is
applied, its answer lost) and `crash_at` (the Nth write is applied, then the serving process
dies before answering, as under kill -9); `change_at_write` ({"item", "field", "value"}) is an
edit made in the control panel just as the next write arrives; `hold_while` (a file path)
holds every request while that file exists, so a test keeps a process inside its run for
exactly as long as it needs, whatever the machine's speed.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tui_sync.connectors.bigcommerce_wire import STATUSES, dumps, loads
from tui_sync.sandbox import bigcommerce_state as st
from tui_sync.sandbox.bigcommerce_spec import Validator, validator

# Catalog money fields by the names the connectors' items give them.
FIELDS = {"price": "price", "cost_price": "cost"}
ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"


class LostAnswer(Exception):
    """Raised after a write was applied and the answer begun: the connection just closes."""


class BigCommerceSandbox:
    def __init__(
        self,
        path: Path,
        token: str,
        store_hash: str = "sandbox",
        products: int = 300,
        quota: int = 10_000,
        window_ms: int = 30_000,
        adjust_delay: float = 0.3,
        validate: bool = True,
    ) -> None:
        self.token = token
        self.store_hash = store_hash
        self.conn = st.open_state(path)
        st.seed(self.conn, products)
        self.quota, self.window_ms, self.adjust_delay = quota, window_ms, adjust_delay
        self._window_start, self._used = time.monotonic(), 0
        self.faults: dict[str, Any] = {}
        self.spec_errors: list[str] = []
        self.requests: list[tuple[str, str, str]] = []  # (method, path, query)
        self.bodies: list[Any] = []  # every write body received, parsed
        self.validator: Validator | None = validator() if validate else None
        self._prefix = f"/stores/{store_hash}"
        # The documented batch limits [S2][S3]; a test lowers one to see a 413 split.
        self.variant_limit, self.product_limit = 50, 10

    # --- helpers for tests ----------------------------------------------------------------

    def _fault(self, name: str) -> bool:
        left = int(self.faults.get(name, 0) or 0)
        if left > 0:
            self.faults[name] = left - 1
            return True
        return False

    def _count_write(self) -> int:
        """Write calls over every process that served this store (`crash_at` counts them)."""
        with self.conn:
            self.conn.execute(
                "INSERT INTO counters VALUES ('write_calls', 1) ON CONFLICT(name) "
                "DO UPDATE SET value = value + 1"
            )
            (calls,) = self.conn.execute(
                "SELECT value FROM counters WHERE name = 'write_calls'"
            ).fetchone()
        return int(calls)

    def _refused(self, table: str, row_id: object) -> bool:
        """The `reject_sku` switch: every write to the item with this SKU is refused."""
        sku = self.faults.get("reject_sku")
        if not sku:
            return False
        # The table name is one of two literals from the callers, never outside text.
        found = self.sql(f"SELECT sku FROM {table} WHERE id = ?", row_id)
        return bool(found) and found[0][0] == sku

    def _applied(self, item_id: str, field: str, value: object) -> None:
        self.conn.execute(
            "INSERT INTO applied (item_id, field, value) VALUES (?, ?, ?)",
            (item_id, field, None if value is None else str(value)),
        )

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with self.conn:
            return self.conn.execute(query, args).fetchall()

    def settle(self) -> None:
        st.apply_due(self.conn)

    # --- ASGI -----------------------------------------------------------------------------

    @property
    def app(self) -> Any:
        async def asgi(scope: Any, receive: Any, send: Any) -> None:
            await self.serve(scope, receive, send)

        return asgi

    async def serve(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        write = request.method == "PUT"
        lose = write and self._fault("lose_write")
        calls = self._count_write() if write else 0
        lose = lose or (write and str(calls) == str(self.faults.get("lose_at")))
        behind = self.faults.pop("change_at_write", None) if write else None
        if isinstance(behind, dict):  # someone else's edit lands just before this write
            with self.conn:
                st.set_item_value(self.conn, str(behind["item"]), behind["field"], behind["value"])
        if write and self._fault("throttle_writes"):  # "come back in a second" [S5]
            await self._throttled("retry")(scope, receive, send)
            return
        response = await self.handle(request)
        if write and str(calls) == str(self.faults.get("crash_at")):
            os._exit(137)  # applied and committed, never answered: what kill -9 does
        if lose and response.status_code < 300:
            # Applied, and the answer never arrives: start it, then drop the connection.
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise LostAnswer("the sandbox dropped this answer on purpose")
        await response(scope, receive, send)

    def _headers(self, response: Response) -> Response:
        elapsed = (time.monotonic() - self._window_start) * 1000
        h = response.headers
        h["X-Rate-Limit-Time-Window-Ms"] = str(self.window_ms)
        h["X-Rate-Limit-Time-Reset-Ms"] = str(max(0, int(self.window_ms - elapsed)))
        h["X-Rate-Limit-Requests-Quota"] = str(self.quota)
        h["X-Rate-Limit-Requests-Left"] = str(max(0, self.quota - self._used))
        return response

    def _throttled(self, style: str = "reset") -> Response:
        response = self.error(429, "Too many requests")
        if style == "retry":  # only the seconds headers [S5]
            response.headers["X-Retry-After"] = "1"
            response.headers["Retry-After"] = "1"
            return response
        self._headers(response)
        response.headers["X-Rate-Limit-Requests-Left"] = "0"
        if style == "window":  # the other reading of Reset-Ms: the window's size [S5]
            response.headers["X-Rate-Limit-Time-Reset-Ms"] = str(self.window_ms)
        return response

    def error(self, status: int, title: str, errors: dict[str, str] | None = None) -> Response:
        body: dict[str, Any] = {"status": status, "title": title, "type": ERROR_TYPE}
        if errors is not None:
            body["errors"] = errors
        return Response(dumps(body), status, media_type="application/json")

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        query = request.url.query
        self.requests.append((request.method, path, query))
        latency = int(self.faults.get("latency_ms", 0) or 0)
        if latency:
            await asyncio.sleep(latency / 1000)
        hold = self.faults.get("hold_while")
        while hold and os.path.exists(str(hold)):
            await asyncio.sleep(0.02)
        if self._fault("storm"):
            return self._throttled(str(self.faults.get("storm_style", "reset")))
        now = time.monotonic()
        if (now - self._window_start) * 1000 >= self.window_ms:
            self._window_start, self._used = now, 0
        if self._used >= self.quota:
            return self._throttled()
        self._used += 1
        return self._headers(await self._answer(request, path))

    async def _answer(self, request: Request, path: str) -> Response:
        body = await request.body()
        if not path.startswith(self._prefix + "/"):
            return self.error(404, "Not found: no such store")
        route = path[len(self._prefix) :]
        if self.validator is not None:
            headers = {k.lower(): v for k, v in request.headers.items()}
            found = self.validator.errors(
                self.store_hash, request.method, route, request.query_params.multi_items(),
                headers, body,
            )  # fmt: skip
            if found:
                self.spec_errors.extend(found)
                return self.error(422, "The request is not valid", {"spec": found[0][:500]})
        if request.headers.get("x-auth-token") != self.token:
            return self.error(401, "You are not authorised to access this resource")
        if self._fault("fail_5xx"):
            return self.error(500, "Internal Server Error")
        if request.method == "GET" and self._fault("malformed"):
            return Response(b'{"data": [{"id": 1, "na', 200, media_type="application/json")
        st.apply_due(self.conn)
        params = request.query_params
        try:
            data = loads(body) if body else None
        except ValueError:
            return self.error(400, "The request body is not valid JSON")
        if request.method == "PUT":
            self.bodies.append(data)
        key = (request.method, re.sub(r"/\d+/", "/{id}/", route))
        try:
            if key == ("GET", "/v3/catalog/products"):
                return self._products(params)
            if key == ("PUT", "/v3/catalog/products"):
                return self._put_products(data)
            if key == ("PUT", "/v3/catalog/variants"):
                return self._put_variants(data)
            if key == ("GET", "/v3/catalog/brands"):
                return self._brands(params)
            if key == ("PUT", "/v3/inventory/adjustments/absolute"):
                return self._adjust(data)
            if key == ("GET", "/v2/orders"):
                return self._orders(params)
            if key == ("GET", "/v2/orders/{id}/products"):
                return self._order_products(int(route.split("/")[3]), params)
        except (sqlite3.Error, KeyError, TypeError, ValueError) as exc:
            return self.error(500, f"sandbox: {type(exc).__name__}")
        return self.error(404, "The requested resource was not found")

    # --- catalog --------------------------------------------------------------------------

    def _page(self, params: Any, default: int = 50) -> tuple[int, int]:
        return int(float(params.get("page", 1))), int(float(params.get("limit", default)))

    def _envelope(self, data: list[Any], total: int, page: int, limit: int) -> Response:
        pages = max(1, -(-total // limit))
        links: dict[str, str] = {"current": f"?page={page}&limit={limit}"}
        if page > 1:
            links["previous"] = f"?page={page - 1}&limit={limit}"
        if page < pages:
            links["next"] = f"?page={page + 1}&limit={limit}"
        meta = {
            "pagination": {
                "total": total, "count": len(data), "per_page": limit, "current_page": page,
                "total_pages": pages, "links": links,
            }
        }  # fmt: skip
        return Response(dumps({"data": data, "meta": meta}), media_type="application/json")

    def _products(self, params: Any) -> Response:
        page, limit = self._page(params)
        where, args = ["1"], []
        if "id:in" in params:
            ids = [int(i) for i in params["id:in"].split(",") if i.strip()]
            where.append(f"id IN ({','.join('?' * len(ids))})")
            args.extend(ids)
        if "date_modified:min" in params:
            where.append("date_modified >= ?")
            args.append(params["date_modified:min"])
        clause = " AND ".join(where)
        (total,) = self.conn.execute(
            f"SELECT count(*) FROM products WHERE {clause}", args
        ).fetchone()
        rows = self.conn.execute(
            f"SELECT * FROM products WHERE {clause} ORDER BY id LIMIT ? OFFSET ?",
            (*args, limit, (page - 1) * limit),
        ).fetchall()
        with_variants = "variants" in params.get("include", "").split(",")
        data = []
        for row in rows:
            variants = self.conn.execute(
                "SELECT * FROM variants WHERE product_id = ? ORDER BY id", (row[0],)
            ).fetchall()
            body = st.product_json(row, variants)
            if not with_variants:
                body.pop("variants")
            data.append(body)
        return self._envelope(data, total, page, limit)

    def _too_many(self, items: Any, limit: int) -> Response | None:
        if not isinstance(items, list):
            return self.error(422, "The request body must be an array")
        if len(items) > limit:
            return self.error(
                413,
                "The request payload is too large. The maximum items allowed in the array "
                f"is {limit}",
            )
        return None

    def _put_products(self, items: Any) -> Response:
        refused = self._too_many(items, self.product_limit)
        if refused:
            return refused
        for item in items:
            if not self.sql("SELECT 1 FROM products WHERE id = ?", item["id"]):
                return self.error(404, f"Product {item['id']} not found")
            if self._refused("products", item["id"]):
                return self.error(422, "The store refused this product", {"price": "invalid"})
        with self.conn:
            for item in items:
                for name in ("price", "cost_price"):
                    if name in item:
                        stored = st.money_text(item[name])
                        self.conn.execute(
                            f"UPDATE products SET {name} = ?, date_modified = ? WHERE id = ?",
                            (stored, st.stamp(), item["id"]),
                        )
                        self._applied(str(item["id"]), FIELDS[name], stored)
        return self._echo_products([i["id"] for i in items])

    def _echo_products(self, ids: list[int]) -> Response:
        data = []
        for pid in ids:
            row = self.conn.execute("SELECT * FROM products WHERE id = ?", (pid,)).fetchone()
            data.append(st.product_json(row, None))
        return Response(dumps({"data": data, "meta": {}}), media_type="application/json")

    def _put_variants(self, items: Any) -> Response:
        refused = self._too_many(items, self.variant_limit)
        if refused:
            return refused
        errors = []
        for item in items:
            if item["id"] == self.faults.get("reject_variant") or self._refused(
                "variants", item["id"]
            ):
                errors.append({"price": "The store refused this price"})
            elif not self.sql("SELECT 1 FROM variants WHERE id = ?", item["id"]):
                errors.append({"id": f"Variant {item['id']} not found"})
        if errors:  # the whole call is refused; the errors do not name the items [S3]
            batch = [
                {"status": 422, "title": "JSON data is missing or invalid", "type": ERROR_TYPE,
                 "errors": e}
                for e in errors
            ]  # fmt: skip
            return Response(dumps({"batch_errors": batch}), 422, media_type="application/json")
        data = []
        with self.conn:
            for item in items:
                for name in ("price", "cost_price"):
                    if name in item:
                        value = None if item[name] is None else st.money_text(item[name])
                        self.conn.execute(
                            f"UPDATE variants SET {name} = ? WHERE id = ?", (value, item["id"])
                        )
                row = self.conn.execute("SELECT * FROM variants WHERE id = ?", (item["id"],))
                variant = row.fetchone()
                self.conn.execute(
                    "UPDATE products SET date_modified = ? WHERE id = ?", (st.stamp(), variant[1])
                )
                product = self.conn.execute(
                    "SELECT * FROM products WHERE id = ?", (variant[1],)
                ).fetchone()
                # The base variant of a product without options is the product's own item.
                item_id = (
                    str(variant[1]) if product[8] == variant[0] else f"{variant[1]}:{variant[0]}"
                )
                for name in ("price", "cost_price"):
                    if name in item:
                        stored = variant[3] if name == "price" else variant[4]
                        self._applied(item_id, FIELDS[name], stored)
                data.append(st.variant_json(variant, product))
        return Response(dumps({"data": data, "meta": {}}), media_type="application/json")

    def _brands(self, params: Any) -> Response:
        page, limit = self._page(params)
        rows = self.sql("SELECT id, name FROM brands ORDER BY id")
        if "id:in" in params:
            ids = {int(i) for i in params["id:in"].split(",") if i.strip()}
            rows = [r for r in rows if r[0] in ids]
        chunk = rows[(page - 1) * limit : page * limit]
        data = [{"id": i, "name": n} for i, n in chunk]
        return self._envelope(data, len(rows), page, limit)

    # --- inventory ------------------------------------------------------------------------

    def _adjust(self, body: Any) -> Response:
        items = body["items"]
        if len(items) > 2000:
            return self.error(413, "The maximum items allowed in the array is 2000")
        queued = []
        named: list[str] = []  # the item id of each queued adjustment
        for item in items:
            if item["location_id"] != 1:
                return self.error(422, f"Location {item['location_id']} does not exist", {})
            if item["quantity"] < 0:  # the exact text is UNVERIFIED (CONNECTORS.md 1.3)
                return self.error(422, "Inventory level cannot be negative", {})
            refused = (
                ("variants", item["variant_id"])
                if "variant_id" in item
                else ("products", item.get("product_id"))
            )
            if self._refused(*refused):
                return self.error(422, "The store refused this adjustment", {})
            if "variant_id" in item:
                row = self.sql(
                    "SELECT p.inventory_tracking, p.id FROM variants v JOIN products p "
                    "ON p.id = v.product_id WHERE v.id = ?",
                    item["variant_id"],
                )
                if not row:
                    return self.error(422, f"Variant {item['variant_id']} does not exist", {})
                if row[0][0] == "product":
                    return self.error(
                        422,
                        f"[Item with variant_id {item['variant_id']} is tracked by product, "
                        "please update stock by product id]",
                        {},
                    )
                queued.append((None, item["variant_id"], item["quantity"]))
                named.append(f"{row[0][1]}:{item['variant_id']}")
            elif "product_id" in item:
                row = self.sql(
                    "SELECT inventory_tracking FROM products WHERE id = ?", item["product_id"]
                )
                if not row or row[0][0] != "product":
                    return self.error(
                        422, f"[Item with product_id {item['product_id']} is tracked by variant]"
                    )
                queued.append((item["product_id"], None, item["quantity"]))
                named.append(str(item["product_id"]))
            else:
                return self.error(422, "Identify items by product_id or variant_id", {})
        due = time.time() + self.adjust_delay
        with self.conn:
            self.conn.executemany(
                "INSERT INTO adjustments (due, product_id, variant_id, quantity, reason) "
                "VALUES (?, ?, ?, ?, ?)",
                [(due, p, v, q, body.get("reason")) for p, v, q in queued],
            )
            for item_id, (_, _, quantity) in zip(named, queued, strict=True):
                self._applied(item_id, "quantity", quantity)
        return Response(
            json.dumps({"transaction_id": str(uuid.uuid4())}), media_type="application/json"
        )

    # --- orders v2 --------------------------------------------------------------------------

    def _list(self, rows: list[Any]) -> Response:
        if not rows and not self.faults.get("empty_200"):
            return Response(status_code=204)
        return Response(dumps(rows), media_type="application/json")

    def _orders(self, params: Any) -> Response:
        page, limit = self._page(params)
        where, args = "1", []
        if "status_id" in params:
            where, args = "status_id = ?", [int(float(params["status_id"]))]
        rows = self.sql(
            f"SELECT id, status_id FROM orders WHERE {where} ORDER BY id LIMIT ? OFFSET ?",
            *args, limit, (page - 1) * limit,
        )  # fmt: skip
        data = [
            {"id": i, "status_id": s, "status": STATUSES.get(s, ""), "items_total": 1}
            for i, s in rows
        ]
        return self._list(data)

    def _order_products(self, order_id: int, params: Any) -> Response:
        if not self.sql("SELECT 1 FROM orders WHERE id = ?", order_id):
            return Response(
                dumps([{"status": 404, "message": "The requested resource was not found."}]),
                404,
                media_type="application/json",
            )
        page, limit = self._page(params)
        rows = self.sql(
            "SELECT id, order_id, product_id, variant_id, sku, quantity, quantity_shipped, "
            "quantity_refunded FROM order_products WHERE order_id = ? ORDER BY id "
            "LIMIT ? OFFSET ?",
            order_id, limit, (page - 1) * limit,
        )  # fmt: skip
        names = ("id", "order_id", "product_id", "variant_id", "sku", "quantity",
                 "quantity_shipped", "quantity_refunded")  # fmt: skip
        data = [{**dict(zip(names, r, strict=True)), "type": "physical"} for r in rows]
        return self._list(data)
