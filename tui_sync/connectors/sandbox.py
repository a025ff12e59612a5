"""The connector of the built-in sandbox: a store or a back office kept in one SQLite file.

It behaves as the real vendors do where it matters to sync, and tells the truth about it:
- the store refuses negative stock (BigCommerce) and keeps prices to 2 decimals, the back office
  keeps 4 and takes one field per call (an accounting API); a value a side cannot hold is
  rejected, never silently rounded;
- every write bumps the item's version token, a value that changed since it was read is a
  conflict (compare-and-set inside one transaction), never overwritten;
- a batch carries an idempotency key: sent again with the same key, it is answered from the
  record of what was applied, never applied twice;
- it reports what changed since a watermark (the state's clock), deletions included.

Fault switches (`remote.set_faults`, for tests and the bench only) make it slow, throttled,
partial, crash after applying a batch, lose an answer, or see a value change under a write.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from pathlib import Path

from tui_sync import money
from tui_sync.cache import now_utc
from tui_sync.connectors.base import ConnectorError, Progress, group_batches
from tui_sync.model import (
    Batch,
    Capabilities,
    Change,
    Item,
    PendingLine,
    Side,
    WriteResult,
)
from tui_sync.money import BadNumber, Number
from tui_sync.sandbox import remote

PAGE = 1000

STORE_CAPABILITIES = Capabilities(
    multi_field_write=True,
    batch_size=50,
    negative_quantity=False,
    money_places=2,
    currency="USD",
    incremental=True,
)
BACKOFFICE_CAPABILITIES = Capabilities(
    multi_field_write=False,
    batch_size=30,
    negative_quantity=True,
    money_places=4,
    currency="USD",
    incremental=True,
)


def capabilities_for(side: Side) -> Capabilities:
    return STORE_CAPABILITIES if side == "store" else BACKOFFICE_CAPABILITIES


def _show(value: Number | None) -> str:
    return "empty" if value is None else str(value)


class SandboxConnector:
    kind = "sandbox"

    def __init__(self, path: Path, side: Side) -> None:
        self.path = path
        self.side: Side = side
        self.capabilities = capabilities_for(side)
        self._conn: sqlite3.Connection | None = remote.open_state(path)
        self._watermark: str | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ConnectorError("sandbox connector is closed")
        return self._conn

    async def aclose(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- faults ---------------------------------------------------------------------------

    def _faults(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.conn.execute("SELECT key, value FROM faults")}

    async def _latency(self, faults: dict[str, str]) -> None:
        delay = int(faults.get("latency_ms", "0"))
        if delay:
            await asyncio.sleep(delay / 1000)

    # --- reads ----------------------------------------------------------------------------

    def _item(self, row: Sequence[object]) -> Item:
        def text(value: object) -> str | None:
            return None if value is None else str(value)

        return Item(
            id=str(row[1]),
            sku=text(row[2]),
            name=str(row[3]),
            brand=text(row[4]),
            quantity=money.parse_quantity(row[5]),
            price=money.parse_money(row[6], "price"),
            cost=money.parse_money(row[7], "cost"),
            parent_id=text(row[8]),
            is_base=bool(row[9]),
            options=remote.decode_options(text(row[10])),
            version=str(row[11]),
        )

    async def read_items(
        self, since: str | None = None, progress: Progress | None = None
    ) -> AsyncIterator[list[Item]]:
        try:
            faults = self._faults()
            clock = self.conn.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()
            # Taken before reading: a write that lands during the read is read again next time.
            self._watermark = str(clock[0]) if clock else "0"
            newer = "" if since is None else " AND modified > ?"
            args: tuple[object, ...] = (self.side,) if since is None else (self.side, int(since))
            (total,) = self.conn.execute(
                f"SELECT COUNT(*) FROM items WHERE side = ?{newer}", args
            ).fetchone()
            if progress is not None:
                progress(0, total)
            done, last = 0, 0
            while True:
                await self._latency(faults)
                # Keyset paging on (side, rowid): each page is one index range, however deep.
                page = self.conn.execute(
                    f"SELECT rowid, {remote.ITEM_COLUMNS} FROM items "
                    f"WHERE side = ?{newer} AND rowid > ? ORDER BY rowid LIMIT ?",
                    (*args, last, PAGE),
                ).fetchall()
                if not page:
                    break
                last = page[-1][0]
                done += len(page)
                yield [self._item(row[1:]) for row in page]
                if progress is not None:
                    progress(done, max(total, done))
        except sqlite3.Error as error:
            raise self._error(error) from None
        except BadNumber as error:
            raise ConnectorError(f"sandbox {self.side}: {error}") from None

    def watermark(self) -> str | None:
        return self._watermark

    async def read_deleted(self, since: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT id FROM deleted WHERE side = ? AND modified > ?", (self.side, int(since))
        ).fetchall()
        return [str(r[0]) for r in rows]

    async def read_current(self, item_ids: Sequence[str]) -> dict[str, Item]:
        found: dict[str, Item] = {}
        try:
            await self._latency(self._faults())
            ids = list(item_ids)
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in self.conn.execute(
                    f"SELECT {remote.ITEM_COLUMNS} FROM items WHERE side = ? AND id IN ({marks})",
                    (self.side, *chunk),
                ):
                    item = self._item(row)
                    found[item.id] = item
        except sqlite3.Error as error:
            raise self._error(error) from None
        return found

    async def read_pending(self) -> list[PendingLine]:
        if self.side != "store":
            return []
        try:
            rows = self.conn.execute(
                "SELECT order_id, sku, quantity, status FROM orders WHERE posted = 0 ORDER BY rowid"
            ).fetchall()
        except sqlite3.Error as error:
            raise self._error(error) from None
        return [PendingLine(order_id=o, sku=s, quantity=q, status=st) for o, s, q, st in rows]

    async def posted_orders(self, order_ids: Sequence[str]) -> set[str]:
        posted: set[str] = set()
        ids = list(order_ids)
        try:
            for start in range(0, len(ids), 500):  # well under SQLite's bound-parameter limit
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self.conn.execute(
                    "SELECT DISTINCT order_id FROM orders "
                    f"WHERE posted = 1 AND order_id IN ({marks})",
                    chunk,
                ).fetchall()
                posted.update(row[0] for row in rows)
        except sqlite3.Error as error:
            raise self._error(error) from None
        return posted

    # --- writes ---------------------------------------------------------------------------

    def batches(self, changes: Sequence[Change]) -> list[list[Change]]:
        return group_batches(changes, self.capabilities)

    async def write(self, batch: Batch) -> list[WriteResult]:
        try:
            faults = self._faults()
            await self._latency(faults)
            return self._write(batch, faults)
        except sqlite3.Error as error:
            raise self._error(error) from None

    def _write(self, batch: Batch, faults: dict[str, str]) -> list[WriteResult]:
        conn = self.conn
        with conn:
            # The call counter is kept in the state, so faults count across processes.
            conn.execute(
                "INSERT INTO faults VALUES ('write_calls', '1') ON CONFLICT(key) "
                "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )
        calls = int(self._faults().get("write_calls", "1"))
        throttle = int(faults.get("throttle", "0"))
        if throttle > 0:
            with conn:
                conn.execute(
                    "UPDATE faults SET value = ? WHERE key = 'throttle'", (str(throttle - 1),)
                )
            return [
                WriteResult(c.id, "throttled", "429 Too Many Requests", retry_after=0.05)
                for c in batch.changes
            ]
        done_before = conn.execute(
            "SELECT id, field, value, version FROM applied WHERE batch_key = ?", (batch.key,)
        ).fetchall()
        if done_before:
            # The same idempotency key again (a retry after a lost answer): answer what was
            # applied, apply nothing twice; changes not applied then are conflicts now.
            return self._replay(batch, done_before)
        behind = faults.get("change_at_write")
        results: list[WriteResult] = []
        with conn:
            if behind:
                self._change_behind(behind)
            for change in batch.changes:
                results.append(self._write_one(batch.key, change, faults))
        if str(calls) == faults.get("crash_at"):
            os._exit(137)  # applied and committed, never answered: what kill -9 does
        if str(calls) == faults.get("lose_answer_at"):
            return []  # applied, the answer lost on the way back
        return results

    def _replay(self, batch: Batch, done: Sequence[Sequence[object]]) -> list[WriteResult]:
        applied = {(str(i), str(f)): (v, ver) for i, f, v, ver in done}
        results = []
        for change in batch.changes:
            hit = applied.get((change.item_id, change.field))
            if hit is None:
                results.append(WriteResult(change.id, "conflict", "not applied by this batch"))
            else:
                value = _parse(change, hit[0])
                results.append(WriteResult(change.id, "done", None, value, str(hit[1])))
        return results

    def _change_behind(self, spec: str) -> None:
        where, _, value = spec.partition("=")
        # Store ids hold a colon themselves ("product:variant"): the side is the first part,
        # the field the last, the id all in between.
        side, _, rest = where.partition(":")
        item_id, _, field = rest.rpartition(":")
        if side == self.side:
            self.conn.execute(
                f"UPDATE items SET {remote.column(field)} = ?, version = version + 1, "
                "modified = ? WHERE side = ? AND id = ?",
                (value, remote.tick(self.conn), side, item_id),
            )
        self.conn.execute("DELETE FROM faults WHERE key = 'change_at_write'")

    def _write_one(self, key: str, change: Change, faults: dict[str, str]) -> WriteResult:
        row = self.conn.execute(
            f"SELECT rowid, {remote.column(change.field)}, version FROM items "
            "WHERE side = ? AND id = ?",
            (self.side, change.item_id),
        ).fetchone()
        if row is None:
            return WriteResult(change.id, "rejected", f"{change.sku}: item no longer exists")
        if faults.get("reject_sku") == change.sku:
            return WriteResult(change.id, "rejected", f"{change.sku} {change.field}: 422 invalid")
        rowid, raw, version = row
        current = _parse(change, raw)
        if current != change.before:
            return WriteResult(
                change.id,
                "conflict",
                f"{change.field} is {_show(current)} now, was {_show(change.before)} when read",
                current,
                str(version),
            )
        why = self._cannot_hold(change)
        if why:
            return WriteResult(change.id, "rejected", f"{change.sku} {change.field}: {why}")
        stored = remote.to_column(change.field, change.after)
        self.conn.execute(
            f"UPDATE items SET {remote.column(change.field)} = ?, version = version + 1, "
            "modified = ? WHERE rowid = ?",
            (stored, remote.tick(self.conn), rowid),
        )
        self.conn.execute(
            "INSERT INTO applied VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, self.side, change.item_id, change.field, stored, version + 1, now_utc()),
        )
        return WriteResult(change.id, "done", None, _parse(change, stored), str(version + 1))

    def _cannot_hold(self, change: Change) -> str | None:
        after = change.after
        if after is None:
            return "cannot be emptied"
        if change.field == "quantity":
            if not isinstance(after, int):
                return f"{after} is not a whole quantity"
            if after < 0 and not self.capabilities.negative_quantity:
                return "the store cannot hold a negative quantity"
            return None
        if after < 0:
            return "cannot be negative"
        places = self.capabilities.money_places
        if money.places_of(after) > places:
            return f"{after} has more than {places} decimals"
        return None

    def _error(self, error: sqlite3.Error) -> ConnectorError:
        if not self.path.is_file():
            return ConnectorError(remote.MISSING)
        reason = " ".join(str(error).split())
        return ConnectorError(
            f"sandbox state is unreadable ({reason}); run `tui-sync demo --reset`"
        )


def _parse(change: Change, raw: object) -> Number | None:
    if change.field == "quantity":
        return money.parse_quantity(raw)
    value: Decimal | None = money.parse_money(raw)
    return value
