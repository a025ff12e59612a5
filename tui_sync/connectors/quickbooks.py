"""The QuickBooks Online connector (back office), Accounting API v3, per CONNECTORS.md section 3.

Calls, and the document each follows (sources as CONNECTORS.md section 8 lists them):
- every request: `{api_url}/v3/company/{realm_id}/...?minorversion=75`, `Authorization: Bearer`,
  `Accept: application/json` [S31][S33][S39]; OAuth 2.0 refresh and rotation: qbo_auth [S36].
- items: `GET /query?query=SELECT * FROM Item STARTPOSITION n MAXRESULTS 1000` [S35]; the count
  first (`SELECT COUNT(*) FROM Item`), so several pages are in flight at once under the rate
  limit; `Type IN ('Group')` first, because a Group item is a base whose `ItemGroupDetail`
  lines are its variants [S30]. Fields (Finance.xsd `Item` [S30]): Sku, Name, QtyOnHand
  (decimal), UnitPrice, PurchaseCost, SyncToken (the item's version), Active, Type.
- incremental: `WHERE MetaData.LastUpdatedTime > '<watermark>'` [S35]; QBO never deletes an
  item, it makes it inactive, so `read_deleted` asks for `Active = false` items changed since.
- posted orders: `SELECT DocNumber FROM SalesReceipt|Invoice WHERE DocNumber IN (...)` [S35]
  (QBO may ignore the projection and return whole documents [S35]: only DocNumber is read).
- writes: `POST /item` sparse update `{"Id","SyncToken","sparse":true,<field>}` [S37]; a stale
  SyncToken is Fault 5010 [S37]: a conflict, re-read to report what QBO holds.

Decisions (CONNECTORS.md 3.5, 3.6):
- one field per call (`multi_field_write=False`): quantity is an inventory adjustment in QBO's
  books (a failed QtyOnHand update reads "We couldn't adjust the stock starting value", -10600
  [S37b]), so it never rides in the same request as a price, whose write must not fail with it;
  each write returns the SyncToken the next write of the item carries (sync.py chains them).
- quantity by sparse Item update of `QtyOnHand`, not `InventoryAdjustment`: the Item update is
  guarded by SyncToken (an adjustment has no compare-and-set on the item's quantity), needs no
  adjustment account (DESIGN.md's config has none), and works beyond QBO Plus/Advanced US [S34].
  So no note carries the run id: `PrivateNote` belongs to transactions (an InventoryAdjustment
  has one [S34][S30]), and Finance.xsd's `Item` has no note element at all (the sandbox refuses
  one, as QBO would). Our writes are known as ours by the journal instead: row detail compares
  the value the journal says we wrote with the one read since.
- no `/batch`: its limit is contradictory (10 vs 30 payloads [S32b][S32]) and metered apart
  (40/min); one request per change, several in flight, under 10 requests/s and 500/min [S32].
- a write whose answer was lost (timeout, 5xx, a cut body) is settled here by reading the item
  back: a changed SyncToken with our value means it landed; an unchanged SyncToken means it
  did not, and it is sent once more (safe: the same SyncToken cannot apply twice).
- 429: the `Retry-After` header when QBO sends one, else the documented 60 s [S32].
- money: UnitPrice and PurchaseCost are `xs:decimal` with no fractionDigits [S30]; 4 places are
  written (UNVERIFIED: Intuit's own limit), and the value QBO answers is what is recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tui_sync import money
from tui_sync.config import Connection, Secret
from tui_sync.connectors.base import (
    AuthError,
    ConnectorError,
    Progress,
    RateLimit,
    Sample,
    group_batches,
)
from tui_sync.connectors.http import (
    Api,
    AuthFailed,
    NoAnswer,
    NotSent,
    RateLimiter,
    Rejected,
    Throttled,
    new_client,
    retry_after_header,
)
from tui_sync.connectors.qbo_auth import TOKEN_URL, OAuth, TokenStore
from tui_sync.connectors.qbo_wire import describe_fault, dumps, fault_codes, loads, quote
from tui_sync.model import Batch, Capabilities, Change, Field, Item, PendingLine, Side, WriteResult
from tui_sync.money import BadNumber, Number

ORIGIN = "https://quickbooks.api.intuit.com"
SANDBOX_ORIGIN = "https://sandbox-quickbooks.api.intuit.com"
MINOR_VERSION = "75"
PAGE = 1000  # MAXRESULTS: the commonly documented cap [S35]
IN_CHUNK = 50  # values in one IN (...) list: keeps the URL well under proxies' limits
THROTTLE_WAIT_S = 60.0
# Changes landing while a read runs must be read again by the next one; QBO's clock and
# replication lag are not documented, so the next incremental read starts a while earlier.
WATERMARK_OVERLAP = timedelta(minutes=5)
FIELD_NAMES: dict[Field, str] = {
    "quantity": "QtyOnHand",
    "price": "UnitPrice",
    "cost": "PurchaseCost",
}

CAPABILITIES = Capabilities(
    writable=frozenset({"quantity", "price", "cost"}),
    multi_field_write=False,
    batch_size=10,
    negative_quantity=True,  # books go negative; QBO keeps a negative QtyOnHand
    fractional_quantity=True,  # QtyOnHand is xs:decimal
    money_places=4,
    has_brand=False,
    has_cost=True,
    has_options=False,  # no option names in QBO: a Group's lines are plain items
    read_batch=100,
    max_in_flight=4,
    incremental=True,
)


def capabilities_for(connection: Connection, side: Side) -> Capabilities:
    del connection, side  # the same for every company: QBO says nothing more without a call
    return CAPABILITIES


def back_off(response: httpx.Response) -> float | None:
    """QBO documents "429: wait 60 s" and no header [S32]; a Retry-After, if sent, wins. A 5xx
    without one keeps the shared client's own exponential back-off (None)."""
    asked = retry_after_header(response)
    if asked is None and response.status_code == 429:
        return THROTTLE_WAIT_S
    return asked


def describe(response: httpx.Response) -> str:
    return describe_fault(loads(response.content))


class QuickBooksConnector:
    kind = "quickbooks"

    def __init__(
        self,
        connection: Connection,
        side: Side,
        data_dir: Path,
        client: httpx.AsyncClient | None = None,
        *,
        page_size: int = PAGE,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        settings = connection.settings
        self.side: Side = side
        self.capabilities = CAPABILITIES
        self.name = f"connections.{connection.name}"
        self._own_client = client is None
        self.client = client or new_client()
        origin = str(settings.get("api_url") or "")
        if not origin:
            origin = SANDBOX_ORIGIN if settings.get("environment") == "sandbox" else ORIGIN
        realm = str(settings["realm_id"])

        def secret(key: str) -> Secret:
            value = settings[key]
            if not isinstance(value, Secret):
                raise ConnectorError(f"{self.name}.{key}: expected a secret")
            return value

        store = TokenStore(data_dir / "tokens" / f"{connection.name}.json")
        self.auth = OAuth(
            self.client,
            self.name,
            str(settings.get("token_url") or TOKEN_URL),
            secret("client_id"),
            secret("client_secret"),
            secret("refresh_token"),
            store,
        )
        # 10 requests a second and 500 a minute per realm [S32]: 8/s with a burst of 2 keeps
        # any second at 10 and any minute under 490.
        self.api = Api(
            self.client,
            f"{origin.rstrip('/')}/v3/company/{realm}",
            self.name,
            limiter or RateLimiter(8.0, burst=2),
            self._headers,
            self.auth.secrets,
            back_off=back_off,
            describe_error=describe,
            sleep=sleep,
        )
        self.page_size = page_size
        self._watermark: str | None = None
        self._pending_mark: str | None = None
        self._gate = asyncio.Semaphore(CAPABILITIES.max_in_flight)

    async def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.auth.access_token()}"}

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()

    # --- requests ---------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, params: dict[str, str], body: str | None = None
    ) -> httpx.Response:
        """One request; a 401 refreshes the access token once and tries again [S36]."""
        params = {**params, "minorversion": MINOR_VERSION}
        content = None if body is None else body.encode()
        extra = None if body is None else {"Content-Type": "application/json"}
        for attempt in (1, 2):
            used = self.auth.current
            try:
                async with self._gate:
                    return await self.api.request(
                        method, path, params=params, content=content, extra_headers=extra,
                        write=body is not None,
                    )  # fmt: skip
            except AuthFailed:
                if attempt == 2 or used is None:
                    raise
                self.auth.invalidate(used)
        raise AssertionError("unreachable")

    async def _query(self, query: str, what: str) -> dict[str, Any]:
        response = await self._call("GET", "/query", {"query": query})
        try:
            data = loads(response.content)
            found = data["QueryResponse"]
            if not isinstance(found, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise ConnectorError(
                f"{self.name}: the answer to the {what} query is not QBO's JSON (cut or garbled); "
                "nothing was changed, try again"
            ) from None
        if self._pending_mark is None and isinstance(data.get("time"), str):
            self._pending_mark = data["time"]  # QBO's clock at the read's first answer
        return found

    # --- reads ------------------------------------------------------------------------------

    def _item(self, raw: dict[str, Any], parents: dict[str, str]) -> Item | None:
        kind = raw.get("Type")
        if kind == "Category" or raw.get("Active") is False:
            return None
        item_id = str(raw["Id"])
        sku = raw.get("Sku")
        return Item(
            id=item_id,
            sku=str(sku) if sku else None,
            name=str(raw.get("Name", "")),
            quantity=money.parse_quantity(raw.get("QtyOnHand"), "QtyOnHand")
            if kind == "Inventory"
            else None,
            price=money.parse_money(raw.get("UnitPrice"), "UnitPrice"),
            cost=money.parse_money(raw.get("PurchaseCost"), "PurchaseCost"),
            parent_id=parents.get(item_id),
            is_base=kind == "Group",
            version=str(raw.get("SyncToken", "")) or None,
        )

    def _items(self, found: dict[str, Any], parents: dict[str, str]) -> list[Item]:
        items = []
        for raw in found.get("Item", []):
            try:
                item = self._item(raw, parents)
            except BadNumber as error:
                raise ConnectorError(f"{self.name}: item {raw.get('Id')}: {error}") from None
            except (KeyError, TypeError, AttributeError):
                raise ConnectorError(f"{self.name}: an item without an Id in the answer") from None
            if item is not None:
                items.append(item)
        return items

    async def _pages(self, where: str, what: str) -> AsyncIterator[dict[str, Any]]:
        """Every page of `SELECT * FROM Item {where}`, up to max_in_flight pages at once, in
        order; past the counted total it goes on until a short page (items added meanwhile)."""
        counted = await self._query(f"SELECT COUNT(*) FROM Item{where}", what)
        total = int(counted.get("totalCount", 0))
        size = self.page_size
        starts = iter(range(1, max(total, 1) + 1, size))
        window: list[asyncio.Task[dict[str, Any]]] = []

        def launch() -> None:
            start = next(starts, None)
            if start is not None:
                query = f"SELECT * FROM Item{where} STARTPOSITION {start} MAXRESULTS {size}"
                window.append(asyncio.ensure_future(self._query(query, what)))

        for _ in range(CAPABILITIES.max_in_flight):
            launch()
        last_start, last = 1, size
        try:
            while window:
                page = await window.pop(0)
                launch()
                last = len(page.get("Item", []))
                last_start = int(page.get("startPosition", last_start))
                yield page
            while last >= size:  # the catalog grew during the read
                last_start += size
                query = f"SELECT * FROM Item{where} STARTPOSITION {last_start} MAXRESULTS {size}"
                page = await self._query(query, what)
                last = len(page.get("Item", []))
                yield page
        finally:
            for task in window:
                task.cancel()

    async def _groups(self) -> dict[str, str]:
        """Component item id -> the Group item it belongs to (the lowest id, if several)."""
        parents: dict[str, str] = {}
        async for page in self._pages(" WHERE Type IN ('Group')", "group item"):
            for raw in page.get("Item", []):
                lines = (raw.get("ItemGroupDetail") or {}).get("ItemGroupLine") or []
                for line in lines:
                    ref = str((line.get("ItemRef") or {}).get("value", ""))
                    if ref and ref not in parents:
                        parents[ref] = str(raw["Id"])
        return parents

    async def read_items(
        self, since: str | None = None, progress: Progress | None = None
    ) -> AsyncIterator[list[Item]]:
        self._pending_mark = None
        # The groups (which item is whose variant) load while the first item pages do: each
        # page waits for them only to be turned into items, not to be asked for.
        groups = asyncio.ensure_future(self._groups())
        where = "" if since is None else f" WHERE MetaData.LastUpdatedTime > {quote(since)}"
        done = 0
        try:
            async for page in self._pages(where, "item"):
                items = self._items(page, await groups)
                done += len(page.get("Item", []))
                if progress is not None:
                    progress(done, None)
                yield items
            await groups  # a catalog without items still reports a failed groups read
        finally:
            if not groups.done():
                groups.cancel()
            elif not groups.cancelled():
                groups.exception()  # retrieved: a failed page's error is the one reported
        self._watermark = self._mark(self._pending_mark)

    @staticmethod
    def _mark(server_time: str | None) -> str | None:
        if server_time is None:
            return None
        try:
            when = datetime.fromisoformat(server_time)
        except ValueError:
            return None
        return (when - WATERMARK_OVERLAP).isoformat(timespec="seconds")

    def watermark(self) -> str | None:
        return self._watermark

    async def sample(self, limit: int) -> Sample:
        """The item count and one small page (`connections test`): two queries."""
        counted = await self._query("SELECT COUNT(*) FROM Item", "item count")
        page = await self._query(f"SELECT * FROM Item STARTPOSITION 1 MAXRESULTS {limit}", "item")
        total = counted.get("totalCount")
        return Sample(
            self._items(page, {}), total if isinstance(total, int) else None, self.rate_limit()
        )

    def rate_limit(self) -> RateLimit:
        # QBO answers no quota headers [S32]: only its documented limits can be shown.
        return RateLimit(self.api.limiter.rate, "10 requests a second and 500 a minute per company")

    async def read_deleted(self, since: str) -> list[str]:
        where = f" WHERE Active = false AND MetaData.LastUpdatedTime > {quote(since)}"
        gone: list[str] = []
        async for page in self._pages(where, "inactive item"):
            gone.extend(str(raw["Id"]) for raw in page.get("Item", []))
        return gone

    async def read_pending(self) -> list[PendingLine]:
        return []  # QBO holds no store orders; "In Orders" comes from the store [S30]

    async def posted_orders(self, order_ids: Sequence[str]) -> set[str]:
        ids = list(dict.fromkeys(order_ids))
        chunks = [ids[i : i + IN_CHUNK] for i in range(0, len(ids), IN_CHUNK)]

        async def one(entity: str, chunk: list[str]) -> set[str]:
            listed = ",".join(quote(i) for i in chunk)
            query = (
                f"SELECT DocNumber FROM {entity} WHERE DocNumber IN ({listed}) MAXRESULTS {PAGE}"
            )
            found = await self._query(query, entity)
            return {str(doc.get("DocNumber")) for doc in found.get(entity, [])}

        parts = await asyncio.gather(
            *(one(e, c) for e in ("SalesReceipt", "Invoice") for c in chunks)
        )
        posted = set().union(*parts) if parts else set()
        return posted & set(ids)

    async def read_current(self, item_ids: Sequence[str]) -> dict[str, Item]:
        ids = [i for i in dict.fromkeys(item_ids) if i.isdigit()]  # QBO ids are numbers
        found: dict[str, Item] = {}
        for start in range(0, len(ids), IN_CHUNK):
            listed = ",".join(quote(i) for i in ids[start : start + IN_CHUNK])
            query = f"SELECT * FROM Item WHERE Id IN ({listed}) MAXRESULTS {PAGE}"
            for item in self._items(await self._query(query, "item"), {}):
                found[item.id] = item
        return found

    # --- writes -----------------------------------------------------------------------------

    def batches(self, changes: Sequence[Change]) -> list[list[Change]]:
        return group_batches(changes, self.capabilities)

    async def write(self, batch: Batch) -> list[WriteResult]:
        async def one(change: Change) -> WriteResult | AuthError:
            try:
                return await self._write_one(change)
            except AuthError as error:
                return error

        answers = await asyncio.gather(*(one(c) for c in batch.changes))
        refused = [a for a in answers if isinstance(a, AuthError)]
        if refused and len(refused) == len(answers):
            raise refused[0]  # nothing was sent: the run stops with one line
        return [
            WriteResult(c.id, "auth_failed", str(a)) if isinstance(a, AuthError) else a
            for c, a in zip(batch.changes, answers, strict=True)
        ]

    async def _write_one(self, change: Change) -> WriteResult:
        what = f"{change.sku} {change.field}"
        if change.after is None:
            return WriteResult(change.id, "rejected", f"{what}: QBO cannot empty it")
        token = change.version
        if token is None:  # no version from the read: take it now, and check the value
            current = (await self.read_current([change.item_id])).get(change.item_id)
            if current is None:
                return WriteResult(change.id, "rejected", f"{change.sku}: item no longer exists")
            if current.value(change.field) != change.before:
                return self._conflict(change, current)
            token = current.version
        value: Number = change.after
        body = dumps(
            {"Id": change.item_id, "SyncToken": token, "sparse": True,
             FIELD_NAMES[change.field]: value}
        )  # fmt: skip
        for attempt in (1, 2):
            try:
                response = await self._call("POST", "/item", {}, body)
                item = loads(response.content)["Item"]
                return WriteResult(
                    change.id,
                    "done",
                    None,
                    self._value(change.field, item),
                    str(item["SyncToken"]),
                )
            except Rejected as error:
                if "5010" in fault_codes(error.body):
                    current = (await self.read_current([change.item_id])).get(change.item_id)
                    if current is None:
                        return WriteResult(change.id, "rejected", f"{change.sku}: item is gone")
                    return self._conflict(change, current)
                said = describe_fault(error.body) or f"HTTP {error.status}"
                return WriteResult(change.id, "rejected", f"{what}: {said}")
            except Throttled as error:
                return WriteResult(
                    change.id, "throttled", str(error), retry_after=error.retry_after
                )
            except NotSent as error:
                return WriteResult(change.id, "not_sent", str(error))
            except (NoAnswer, ValueError, KeyError, TypeError, BadNumber) as error:
                settled = await self._read_back(change, token, str(error))
                if settled is not None or attempt == 2:
                    return settled or WriteResult(change.id, "unknown", str(error))
        raise AssertionError("unreachable")

    async def _read_back(self, change: Change, token: str | None, why: str) -> WriteResult | None:
        """A write without a usable answer, settled by what QBO holds; None: it did not land
        (same SyncToken, same value), so sending it again is safe."""
        try:
            current = (await self.read_current([change.item_id])).get(change.item_id)
        except ConnectorError:
            return WriteResult(change.id, "unknown", f"{why}; the read-back failed too")
        if current is None:
            return WriteResult(change.id, "rejected", f"{change.sku}: item no longer exists")
        now = current.value(change.field)
        if current.version == token and now == change.before:
            return None
        if (
            now is not None
            and Decimal(now) == Decimal(change.after or 0)
            and change.after is not None
        ):
            return WriteResult(change.id, "done", "confirmed by reading back", now, current.version)
        return self._conflict(change, current)

    def _value(self, field: Field, item: dict[str, Any]) -> Number | None:
        raw = item.get(FIELD_NAMES[field])
        if field == "quantity":
            return money.parse_quantity(raw, "QtyOnHand")
        parsed: Decimal | None = money.parse_money(raw, FIELD_NAMES[field])
        return parsed

    def _conflict(self, change: Change, current: Item) -> WriteResult:
        now = current.value(change.field)
        return WriteResult(
            change.id,
            "conflict",
            f"{change.field} is {now} now, was {change.before} when read "
            f"(QBO's SyncToken moved on: not overwritten)",
            now,
            current.version,
        )
