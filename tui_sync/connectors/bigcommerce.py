"""The BigCommerce connector (store side): Catalog v3, Inventory v3 and Orders v2 over HTTP.

Every call follows a vendor document (tags as in CONNECTORS.md section 8):
- reads: `GET /v3/catalog/products?include=variants&limit=250&page=N` [S2] (variant fields
  [S3]), `GET /v3/catalog/brands?id:in=` [S4]; the same products call with `id:in` is the fresh
  read of `read_current`, and `date_modified:min` the incremental read [S2];
- pending orders: `GET /v2/orders?status_id=` and `GET /v2/orders/{id}/products` [S9];
- writes: `PUT /v3/catalog/variants` (50 a call) [S3] for variants, `PUT /v3/catalog/products`
  (10 a call) [S2] for a product without options (its price is the product's), and quantity by
  `PUT /v3/inventory/adjustments/absolute` for one location [S6][S7];
- headers `X-Auth-Token`, `Accept`, `Content-Type` [S1]; rate limits `X-Rate-Limit-*` [S1][S5].

Items: a product without options (`base_variant_id` set, one variant without option values) is
ONE item, id `"{product_id}"`: its base variant shares its SKU and is never a second item. A
product with options is a base item `"{product_id}"` plus one item per variant,
`"{product_id}:{variant_id}"`. `ref` holds the product's `inventory_tracking` (`product` or
`variant`), which decides how its stock is adjusted (the Inventory API refuses the other one).

BigCommerce has no compare-and-set on any write [S2][S3][S6] (CONNECTORS.md 1.4): `write` reads
the batch's items first and answers `conflict` for any whose value is no longer `before`. A
window remains between that read and the write, in which another writer's change is lost; it
is as short as one request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import httpx

from tui_sync import money
from tui_sync.config import Connection
from tui_sync.connectors import bigcommerce_wire as wire
from tui_sync.connectors.base import (
    ConnectorError,
    Progress,
    RateLimit,
    Sample,
    group_batches,
)
from tui_sync.connectors.http import (
    Api,
    AuthFailed,
    HttpError,
    NoAnswer,
    NotSent,
    RateLimiter,
    Rejected,
    Throttled,
)
from tui_sync.model import Batch, Capabilities, Change, Item, PendingLine, Side, WriteResult
from tui_sync.money import BadNumber, Number

ORIGIN = "https://api.bigcommerce.com"
PAGE = 250  # the products page maximum [S2]
VARIANT_BATCH = 50  # "Currently the limit is 50 variants" [S3]
PRODUCT_BATCH = 10  # "Batches are limited to 10 products" [S2]
# The example location of [S6]; the default location when none is configured (UNVERIFIED that
# every store's default location is 1).
DEFAULT_LOCATION = 1
# Absolute adjustments are applied asynchronously [S7]: a write is confirmed by reading back,
# polling within this deadline; past it the change stays unknown and a later read settles it.
CONFIRM_S = 10.0
# Standard/Plus plans: 150 requests per 30 s [S5]; the quota headers of each answer adjust it.
RATE, BURST = 5.0, 10

CAPABILITIES = Capabilities(
    multi_field_write=True,
    batch_size=VARIANT_BATCH,
    negative_quantity=False,  # inventory_level minimum 0 [S2]
    fractional_quantity=False,  # quantities are integers [S2][S6]
    # Catalog money is a JSON double with no stated precision [S2][S3]; the v2 API renders
    # money "to four decimal places" [S9]. So 4 (UNVERIFIED for catalog storage): the value
    # the API answers is what the cache records.
    money_places=4,
    currency=None,  # the store's currency is not part of these calls
    read_batch=50,
    max_in_flight=4,
    incremental=True,
    applies_within_s=CONFIRM_S,
)


def capabilities_for(connection: Connection, side: Side) -> Capabilities:
    return CAPABILITIES


def _num(value: object, what: str) -> Decimal | None:
    return money.parse_money(value, what)


def _qty(value: object) -> int | None:
    parsed = money.parse_quantity(value, "inventory_level")
    return None if parsed is None else int(parsed)


class BigCommerceConnector:
    kind = "bigcommerce"

    def __init__(
        self,
        connection: Connection,
        side: Side,
        client: httpx.AsyncClient,
        pending_statuses: tuple[str, ...] | None = None,
        run_label: str = "tui-sync",
    ) -> None:
        settings = connection.settings
        self.side: Side = side
        self.capabilities = capabilities_for(connection, side)
        self.name = f"connections.{connection.name}"
        self.store_hash = str(settings["store_hash"])
        self.token = settings["token"]
        location = settings.get("location_id")
        self.location = DEFAULT_LOCATION if location is None else int(str(location))
        if self.location != DEFAULT_LOCATION:
            # Reads take the catalog's inventory_level, the store's total over its locations:
            # writing one other location's level from it would set that location wrong. Until
            # the per-location read is built, such a connection is refused, not half-served.
            raise ConnectorError(
                f"{self.name}: location_id {self.location}: only the default location "
                f"({DEFAULT_LOCATION}) is supported for now; remove location_id"
            )
        try:
            self.statuses = wire.status_ids(pending_statuses)
        except ValueError as exc:
            raise ConnectorError(f"{self.name}: {exc}") from None
        origin = str(settings.get("api_url") or ORIGIN).rstrip("/")
        self.limiter = RateLimiter(RATE, BURST)
        self.api = Api(
            client,
            f"{origin}/stores/{self.store_hash}",
            self.name,
            self.limiter,
            self._headers,
            self._secrets,
            back_off=wire.back_off,
            on_response=self._quota,
            describe_error=wire.describe_error,
        )
        self._watermark: str | None = None
        self._brands: dict[int, str] = {}
        self.rate_seen: tuple[int, float] | None = None  # (quota, window seconds)
        self.quota_seen: dict[str, float] = {}  # the last answer's X-Rate-Limit-* values

    def _reveal(self) -> str:
        reveal = getattr(self.token, "reveal", None)
        return str(reveal() if reveal is not None else self.token)

    async def _headers(self) -> Mapping[str, str]:
        return {
            "X-Auth-Token": self._reveal(),
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    def _secrets(self) -> Sequence[str]:
        try:
            return [self._reveal()]
        except Exception:
            return []

    def _quota(self, response: httpx.Response) -> None:
        """Follow the quota on every answer [S5]: what is left of the window may be spent at
        once (the limiter keeps room for the requests in flight), and when none is left every
        request waits for the reset. Without the headers, quota/window paces requests evenly."""
        headers = response.headers
        try:
            quota = int(headers.get("x-rate-limit-requests-quota", ""))
            window = float(headers.get("x-rate-limit-time-window-ms", "")) / 1000
        except ValueError:
            quota, window = 0, 0.0
        if quota > 0 and window > 0:
            self.rate_seen = (quota, window)
            self.limiter.rate = quota / window
            self.quota_seen = {"quota": quota, "window_s": window}
            for key, header, scale in (
                ("left", "x-rate-limit-requests-left", 1.0),
                ("reset_s", "x-rate-limit-time-reset-ms", 1000.0),
            ):
                with contextlib.suppress(ValueError):
                    self.quota_seen[key] = float(headers.get(header, "")) / scale
            reset = wire.quota_wait(response)
            if "left" in self.quota_seen and reset is not None:
                # Room for every request that may be in flight (pages, or a batch's calls).
                reserve = self.capabilities.max_in_flight + 1
                self.limiter.window(int(self.quota_seen["left"]), reset, window, reserve)
        left = headers.get("x-rate-limit-requests-left")
        if left is not None and left.strip() == "0":
            self.limiter.pause(wire.quota_wait(response) or 1.0)

    async def aclose(self) -> None:
        return None  # the client is the pair's, closed by whoever made it

    async def _get(self, path: str, params: Mapping[str, str | int]) -> Any:
        response = await self.api.request("GET", path, params=params)
        if response.status_code == 204 or not response.content:
            return None  # v2 answers an empty list as 204 No Content (UNVERIFIED) [S9]
        try:
            return wire.loads(response.content)
        except ValueError:
            raise ConnectorError(
                f"{self.name}: GET {path}: the answer is not valid JSON; try again, or check "
                "api_url points at the BigCommerce API"
            ) from None

    def _bad(self, what: str) -> ConnectorError:
        return ConnectorError(f"{self.name}: unexpected answer from BigCommerce: {what}")

    # --- reads ----------------------------------------------------------------------------

    async def _products_page(self, page: int, extra: Mapping[str, str]) -> tuple[list[Any], int]:
        params: dict[str, str | int] = {
            "include": "variants",
            "limit": PAGE,
            "page": page,
            "sort": "id",
            **extra,
        }
        body = await self._get("/v3/catalog/products", params)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise self._bad("GET /v3/catalog/products without a data list")
        pagination = (body.get("meta") or {}).get("pagination") or {}
        pages = pagination.get("total_pages", 1)
        return body["data"], int(pages) if isinstance(pages, int) else 1

    async def _brands_for(self, products: Sequence[Any]) -> None:
        wanted = sorted(
            {p["brand_id"] for p in products if isinstance(p.get("brand_id"), int)}
            - set(self._brands)
            - {0}
        )
        for start in range(0, len(wanted), PAGE):
            chunk = wanted[start : start + PAGE]
            params: dict[str, str | int] = {"id:in": ",".join(map(str, chunk)), "limit": PAGE}
            body = await self._get("/v3/catalog/brands", params)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise self._bad("GET /v3/catalog/brands without a data list")
            for brand in data:
                if isinstance(brand, dict) and isinstance(brand.get("id"), int):
                    self._brands[brand["id"]] = str(brand.get("name") or "")

    def _items(self, product: Any) -> list[Item]:
        try:
            return self._product_items(product)
        except (KeyError, TypeError, BadNumber) as exc:
            pid = product.get("id") if isinstance(product, dict) else None
            raise self._bad(f"product {pid}: {exc}") from None

    def _product_items(self, p: Any) -> list[Item]:
        pid = int(p["id"])
        name = str(p.get("name") or "")
        brand = self._brands.get(p.get("brand_id") or 0) or None
        tracking = str(p.get("inventory_tracking") or "product")
        price = _num(p.get("price"), "price")
        cost = _num(p.get("cost_price"), "cost_price")
        variants = [v for v in p.get("variants") or [] if isinstance(v, dict)]
        optioned = [v for v in variants if v.get("option_values")]
        if p.get("base_variant_id") is not None and not optioned:
            # A product without options: ONE item; its base variant is the product [S2][S3].
            return [
                Item(
                    id=str(pid),
                    sku=str(p.get("sku") or "") or None,
                    name=name,
                    brand=brand,
                    quantity=_qty(p.get("inventory_level")),
                    price=price,
                    cost=cost,
                    ref=tracking,
                )
            ]
        items = [
            Item(id=str(pid), sku=str(p.get("sku") or "") or None, name=name, brand=brand,
                 is_base=True, ref=tracking)
        ]  # fmt: skip
        for v in optioned:
            options = tuple(
                (str(o.get("option_display_name") or ""), str(o.get("label") or ""))
                for o in v["option_values"]
                if isinstance(o, dict)
            )
            own_price, own_cost = _num(v.get("price"), "price"), _num(v.get("cost_price"), "cost")
            labels = ", ".join(label for _, label in options if label)
            items.append(
                Item(
                    id=f"{pid}:{int(v['id'])}",
                    sku=str(v.get("sku") or "") or None,
                    # A variant has no name of its own: the store shows the product's with
                    # the variant's option values, as a back office names such an item.
                    name=f"{name} ({labels})" if labels else name,
                    brand=brand,
                    quantity=_qty(v.get("inventory_level")),
                    # A null variant price is the product's [S3]; a null cost likewise
                    # (UNVERIFIED for cost: the spec only says null is shown for 0).
                    price=price if own_price is None else own_price,
                    cost=cost if own_cost is None else own_cost,
                    parent_id=str(pid),
                    options=options,
                    ref=tracking,
                )
            )
        return items

    async def _page_items(self, data: list[Any]) -> list[Item]:
        await self._brands_for([p for p in data if isinstance(p, dict)])
        items: list[Item] = []
        for product in data:
            items.extend(self._items(product))
            stamp = product.get("date_modified") if isinstance(product, dict) else None
            if isinstance(stamp, str) and (self._watermark is None or stamp > self._watermark):
                # Dates are ISO 8601 in one offset (+00:00) [S2]: text order is time order.
                self._watermark = stamp
        return items

    async def read_items(
        self, since: str | None = None, progress: Progress | None = None
    ) -> AsyncIterator[list[Item]]:
        # The newest `date_modified` seen is the next watermark; `:min` is inclusive, so an
        # item changed within that same second is read again rather than missed.
        self._watermark = since
        extra = {} if since is None else {"date_modified:min": since}
        data, pages = await self._products_page(1, extra)
        done = 0
        items = await self._page_items(data)
        done += len(data)
        if progress is not None:
            progress(done, None if pages > 1 else done)
        yield items
        # Further pages in flight up to max_in_flight, under the shared limiter.
        queue: deque[asyncio.Task[tuple[list[Any], int]]] = deque()
        following = iter(range(2, pages + 1))
        try:
            while True:
                while len(queue) < self.capabilities.max_in_flight:
                    page = next(following, None)
                    if page is None:
                        break
                    queue.append(asyncio.ensure_future(self._products_page(page, extra)))
                if not queue:
                    break
                data, _ = await queue.popleft()
                items = await self._page_items(data)
                done += len(data)
                if progress is not None:
                    progress(done, None)
                yield items
        finally:
            for task in queue:
                task.cancel()

    def watermark(self) -> str | None:
        return self._watermark

    async def sample(self, limit: int) -> Sample:
        """One small products page (`connections test`), with the total the API counts."""
        body = await self._get(
            "/v3/catalog/products", {"include": "variants", "limit": limit, "page": 1}
        )
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise self._bad("GET /v3/catalog/products without a data list")
        total = ((body.get("meta") or {}).get("pagination") or {}).get("total")
        items = [i for p in body["data"] for i in self._items(p)]
        total = total if isinstance(total, int) else None
        return Sample(items, total, self.rate_limit(), "products")

    def rate_limit(self) -> RateLimit:
        return RateLimit(
            self.limiter.rate,
            "150 requests per 30 s on Standard/Plus plans, 450 on Pro (per store)",
            dict(self.quota_seen),
        )

    async def read_deleted(self, since: str) -> list[str]:
        return []  # the Catalog API does not report deletions: the periodic full pass does

    async def read_current(self, item_ids: Sequence[str]) -> dict[str, Item]:
        products = sorted({int(i.partition(":")[0]) for i in item_ids if i.partition(":")[0]})
        wanted = set(item_ids)
        found: dict[str, Item] = {}
        for start in range(0, len(products), PAGE):
            chunk = ",".join(map(str, products[start : start + PAGE]))
            data, _ = await self._products_page(1, {"id:in": chunk})
            for item in await self._page_items(data):
                if item.id in wanted:
                    found[item.id] = item
        return found

    async def read_pending(self) -> list[PendingLine]:
        gate = asyncio.Semaphore(self.capabilities.max_in_flight)

        async def orders(status: int) -> list[Any]:
            found: list[Any] = []
            page = 1
            while True:  # a bare array, no meta [S9]: page until an empty page
                async with gate:
                    params = {"status_id": status, "limit": PAGE, "page": page}
                    body = await self._get("/v2/orders", params)
                if not body:
                    return found
                if not isinstance(body, list):
                    raise self._bad("GET /v2/orders is not a list")
                found.extend(o for o in body if isinstance(o, dict))
                page += 1

        async def lines(order: Any) -> list[PendingLine]:
            out: list[PendingLine] = []
            page = 1
            while True:
                async with gate:
                    body = await self._get(
                        f"/v2/orders/{int(order['id'])}/products", {"limit": PAGE, "page": page}
                    )
                if not body:
                    return out
                if not isinstance(body, list):
                    raise self._bad("GET /v2/orders/{id}/products is not a list")
                for line in body:
                    # Not yet shipped, less refunded [S9] (CONNECTORS.md 1.5).
                    left = (
                        (_qty(line.get("quantity")) or 0)
                        - (_qty(line.get("quantity_shipped")) or 0)
                        - (_qty(line.get("quantity_refunded")) or 0)
                    )
                    sku = str(line.get("sku") or "")
                    if left > 0 and sku:
                        status = wire.STATUSES.get(order.get("status_id"), str(order["status"]))
                        out.append(PendingLine(str(order["id"]), sku, left, status))
                page += 1

        try:
            per_status = await asyncio.gather(*(orders(s) for s in self.statuses))
            # The status is checked again: an order never counts unless its status does.
            taken = [
                o for group in per_status for o in group if o.get("status_id") in self.statuses
            ]
            unique = list({int(o["id"]): o for o in taken}.values())
            found = await asyncio.gather(*(lines(o) for o in unique))
        except (KeyError, TypeError, ValueError, BadNumber) as exc:
            raise self._bad(f"orders: {exc}") from None
        return [line for group in found for line in group]

    async def posted_orders(self, order_ids: Sequence[str]) -> set[str]:
        return set()  # the store cannot tell what the back office posted

    # --- writes ---------------------------------------------------------------------------

    def batches(self, changes: Sequence[Change]) -> list[list[Change]]:
        return group_batches(changes, self.capabilities)

    async def write(self, batch: Batch) -> list[WriteResult]:
        from tui_sync.connectors.bigcommerce_write import Writer

        return await Writer(self, batch).run()


def error_outcome(exc: HttpError) -> tuple[str, float | None]:
    """The typed outcome of a request that raised, for every change it carried."""
    if isinstance(exc, AuthFailed):
        return "auth_failed", None
    if isinstance(exc, Throttled):
        return "throttled", exc.retry_after
    if isinstance(exc, NotSent):
        return "not_sent", None
    if isinstance(exc, NoAnswer):
        return "unknown", None
    if isinstance(exc, Rejected):
        return "rejected", None
    return "unknown", None


def now() -> float:
    return time.monotonic()


def value_text(value: Number | None) -> str:
    return "empty" if value is None else str(value)
