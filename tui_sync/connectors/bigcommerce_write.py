"""Writing one batch to BigCommerce: check, then price and cost, then stock, then confirm.

1. Read the batch's items (`read_current`): a change whose value is no longer `before` is a
   `conflict` carrying what the store holds; nothing is sent for it. (No compare-and-set
   exists [S2][S3][S6]: the window between this read and the write remains.)
2. Price and cost: variants by `PUT /v3/catalog/variants` (50 a call) [S3], products without
   options by `PUT /v3/catalog/products` (10 a call) [S2]; price and cost of one item go in one
   object. A 413 splits the call; a 422 (the variants batch answers `batch_errors` that do not
   say which item failed [S3]) is bisected until each refused item stands alone, every other
   change being sent again (set-to-value writes are idempotent, so a half-applied call is safe
   to repeat). A 207 confirms what it lists; the rest is left for a read to settle.
3. Quantity: one `PUT /v3/inventory/adjustments/absolute` for the location, tagged with the run
   in `reason` [S6], after the catalog calls (bulk inventory and catalog writes are not to run
   in parallel [S7]). It is asynchronous [S7]: the change is confirmed by reading back until the
   store shows it, within a deadline; past it the change is `unknown`, for sync to settle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tui_sync.connectors import bigcommerce_wire as wire
from tui_sync.connectors.http import AuthFailed, HttpError, Rejected
from tui_sync.model import Batch, Change, Item, WriteResult
from tui_sync.money import BadNumber

if TYPE_CHECKING:
    from tui_sync.connectors.bigcommerce import BigCommerceConnector

MAX_INT = 2_147_483_647  # per location [S7]
FIELD = {"price": "price", "cost": "cost_price"}


class Writer:
    def __init__(self, connector: BigCommerceConnector, batch: Batch) -> None:
        self.c = connector
        self.batch = batch
        self.results: dict[int, WriteResult] = {}
        self.auth: str | None = None  # once refused, nothing more is sent

    def _set(self, change: Change, outcome: Any, reason: str | None, **kw: Any) -> None:
        self.results[change.id] = WriteResult(change.id, outcome, reason, **kw)

    async def run(self) -> list[WriteResult]:
        from tui_sync.connectors.bigcommerce import value_text

        changes = list(self.batch.changes)
        try:
            current = await self.c.read_current(sorted({ch.item_id for ch in changes}))
        except AuthFailed:
            raise
        except HttpError as exc:  # nothing sent yet: safe to send again
            return [WriteResult(ch.id, "not_sent", f"{exc}") for ch in changes]
        money: list[Change] = []
        stock: list[Change] = []
        for ch in changes:
            item = current.get(ch.item_id)
            if item is None or item.is_base:
                self._set(ch, "rejected", f"{ch.sku}: the item no longer exists in the store")
                continue
            now = item.value(ch.field)
            if not _same(now, ch.before):
                self._set(
                    ch,
                    "conflict",
                    f"{ch.field} is {value_text(now)} now, was {value_text(ch.before)} when read",
                    value=now,
                )
                continue
            why = _cannot_hold(ch)
            if why:
                self._set(ch, "rejected", f"{ch.sku} {ch.field}: {why}")
                continue
            (stock if ch.field == "quantity" else money).append(ch)
        variants = [ch for ch in money if ":" in ch.item_id]
        products = [ch for ch in money if ":" not in ch.item_id]
        await self._catalog("/v3/catalog/variants", variants, _variant_id, 50)
        await self._catalog("/v3/catalog/products", products, _product_id, 10)
        await self._stock(stock, current)
        return [self.results[ch.id] for ch in changes if ch.id in self.results]

    # --- price and cost ---------------------------------------------------------------------

    async def _catalog(self, path: str, changes: list[Change], key: Any, limit: int) -> None:
        by_id: dict[int, list[Change]] = {}
        for ch in changes:
            by_id.setdefault(key(ch), []).append(ch)
        groups = list(by_id.items())
        for start in range(0, len(groups), limit):
            await self._put(path, groups[start : start + limit])

    async def _put(self, path: str, groups: list[tuple[int, list[Change]]]) -> None:
        if not groups:
            return
        if self.auth:
            for _, chs in groups:
                for ch in chs:
                    self._set(ch, "auth_failed", self.auth)
            return
        body = [{"id": oid, **{FIELD[ch.field]: ch.after for ch in chs}} for oid, chs in groups]
        try:
            response = await self.c.api.request("PUT", path, content=wire.dumps(body), write=True)
        except Rejected as exc:
            if len(groups) > 1 and exc.status in (413, 422, 404, 409):
                # Which item was refused is not said: halves, until it stands alone.
                half = len(groups) // 2
                await self._put(path, groups[:half])
                await self._put(path, groups[half:])
                return
            for _, chs in groups:
                for ch in chs:
                    self._set(ch, "rejected", f"{ch.sku} {ch.field}: {exc}")
            return
        except HttpError as exc:
            self._failed([ch for _, chs in groups for ch in chs], exc)
            return
        try:
            answer = wire.loads(response.content)
            data = answer.get("data") if isinstance(answer, dict) else None
            echoed = {int(o["id"]): o for o in data or [] if isinstance(o, dict)}
        except (ValueError, KeyError, TypeError):
            echoed = {}
        for oid, chs in groups:
            obj = echoed.get(oid)
            for ch in chs:
                if obj is None:  # a 207, or an answer we cannot read: a read settles it
                    self._set(ch, "unknown", f"{ch.sku} {ch.field}: not confirmed by the answer")
                    continue
                try:
                    value = _money(obj.get(FIELD[ch.field]))
                except BadNumber:
                    value = None
                if value is None:
                    self._set(ch, "unknown", f"{ch.sku} {ch.field}: not confirmed by the answer")
                else:
                    self._set(ch, "done", None, value=value)

    def _failed(self, changes: Sequence[Change], exc: HttpError) -> None:
        from tui_sync.connectors.bigcommerce import error_outcome

        outcome, retry = error_outcome(exc)
        if outcome == "auth_failed":
            self.auth = str(exc)
        for ch in changes:
            self._set(ch, outcome, str(exc), retry_after=retry)

    # --- quantity ---------------------------------------------------------------------------

    async def _stock(self, changes: list[Change], current: dict[str, Item]) -> None:
        if not changes:
            return
        if self.auth:
            for ch in changes:
                self._set(ch, "auth_failed", self.auth)
            return
        items = []
        for ch in changes:
            pid, _, vid = ch.item_id.partition(":")
            by_variant = vid and current[ch.item_id].ref == "variant"
            identity = {"variant_id": int(vid)} if by_variant else {"product_id": int(pid)}
            items.append({"location_id": self.c.location, **identity, "quantity": ch.after})
        body = {"reason": f"tui-sync {self.batch.key}"[:255], "items": items}
        try:
            response = await self.c.api.request(
                "PUT", "/v3/inventory/adjustments/absolute", content=wire.dumps(body), write=True
            )
        except Rejected as exc:
            if len(changes) > 1 and exc.status in (413, 422):
                half = len(changes) // 2
                await self._stock(changes[:half], current)
                await self._stock(changes[half:], current)
                return
            for ch in changes:
                self._set(ch, "rejected", f"{ch.sku} quantity: {exc}")
            return
        except HttpError as exc:
            self._failed(changes, exc)
            return
        try:
            transaction = str(wire.loads(response.content).get("transaction_id") or "")
        except (ValueError, AttributeError):
            transaction = ""
        await self._confirm(changes, transaction)

    async def _confirm(self, changes: list[Change], transaction: str) -> None:
        from tui_sync.connectors.bigcommerce import CONFIRM_S, now

        deadline = now() + CONFIRM_S
        delay = 0.1
        waiting = list(changes)
        while waiting:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
            try:
                seen = await self.c.read_current(sorted({ch.item_id for ch in waiting}))
            except HttpError:
                seen = {}
            left = []
            for ch in waiting:
                item = seen.get(ch.item_id)
                held = None if item is None else item.quantity
                if held is not None and ch.after is not None and held == ch.after:
                    self._set(ch, "done", f"confirmed by reading back ({transaction})", value=held)
                else:
                    left.append(ch)
            waiting = left
            if waiting and now() >= deadline:
                for ch in waiting:
                    self._set(
                        ch,
                        "unknown",
                        f"{ch.sku} quantity: adjustment {transaction} accepted, not visible yet",
                    )
                return


def _variant_id(ch: Change) -> int:
    return int(ch.item_id.partition(":")[2])


def _product_id(ch: Change) -> int:
    return int(ch.item_id)


def _money(value: object) -> Decimal | None:
    from tui_sync import money

    return money.parse_money(value)


def _same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    return Decimal(str(a)) == Decimal(str(b))


def _cannot_hold(ch: Change) -> str | None:
    after = ch.after
    if after is None:
        return "cannot be emptied"
    if ch.field == "quantity":
        if not isinstance(after, int):
            return f"{after} is not a whole quantity"
        if after < 0:
            return "BigCommerce cannot hold a negative stock level"
        if after > MAX_INT:
            return f"{after} is over the largest stock level ({MAX_INT})"
        return None
    if after < 0:
        return "cannot be negative"  # `minimum: 0` [S2][S3]
    return None
