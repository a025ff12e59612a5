"""The in-process connector of the built-in sandbox: a store or a back office kept in SQLite.

It behaves like the real vendors where it matters to sync: the store refuses negative stock
(BigCommerce), the back office takes one field per call (an accounting API), and a value that
changed since it was read is reported as a conflict, never overwritten.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tui_sync.connectors.base import ConnectorError, Progress
from tui_sync.model import Capabilities, Change, Item, PendingLine, Side, WriteResult
from tui_sync.sandbox import remote

PAGE = 1000

STORE_CAPABILITIES = Capabilities(multi_field_write=True, batch_size=50, negative_quantity=False)
BACKOFFICE_CAPABILITIES = Capabilities(
    multi_field_write=False, batch_size=30, negative_quantity=True
)


def _money(text: str | None) -> Decimal | None:
    if text is None or text == "":
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _show(value: int | Decimal | None) -> str:
    return "empty" if value is None else str(value)


class SandboxConnector:
    kind = "sandbox"

    def __init__(self, path: Path, side: Side) -> None:
        self.path = path
        self.side: Side = side
        self.capabilities = STORE_CAPABILITIES if side == "store" else BACKOFFICE_CAPABILITIES
        # Our own connection: the store and back-office connectors may be used from different
        # worker threads, one call at a time each.
        self._conn: sqlite3.Connection | None = remote.open_state(path)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ConnectorError("sandbox connector is closed")
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def read_items(self, progress: Progress | None = None) -> Iterator[Item]:
        try:
            (total,) = self.conn.execute(
                "SELECT COUNT(*) FROM items WHERE side = ?", (self.side,)
            ).fetchone()
            done, last = 0, 0
            if progress is not None:
                progress(0, total)
            while True:
                # Keyset paging on (side, rowid): each page is one index range, however deep.
                page = self.conn.execute(
                    f"SELECT rowid, {remote.ITEM_COLUMNS} FROM items "
                    "WHERE side = ? AND rowid > ? ORDER BY rowid LIMIT ?",
                    (self.side, last, PAGE),
                ).fetchall()
                if not page:
                    break
                last = page[-1][0]
                done += len(page)
                for row in page:
                    yield Item(
                        id=row[2],
                        sku=row[3],
                        name=row[4],
                        brand=row[5],
                        quantity=row[6],
                        price=_money(row[7]),
                        cost=_money(row[8]),
                        parent_id=row[9],
                        is_base=bool(row[10]),
                        options=remote.decode_options(row[11]),
                        version=str(row[12]),
                    )
                if progress is not None:
                    progress(done, max(total, done))
        except sqlite3.Error as error:
            raise self._error(error) from None

    def read_pending(self) -> Iterator[PendingLine]:
        if self.side != "store":
            return
        try:
            rows = self.conn.execute(
                "SELECT order_id, sku, quantity, status FROM orders WHERE posted = 0 ORDER BY rowid"
            ).fetchall()
        except sqlite3.Error as error:
            raise self._error(error) from None
        for order_id, sku, quantity, status in rows:
            yield PendingLine(order_id=order_id, sku=sku, quantity=quantity, status=status)

    def posted_orders(self, order_ids: Sequence[str]) -> set[str]:
        posted: set[str] = set()
        ids = list(order_ids)
        try:
            # Chunks keep well under SQLite's limit on bound parameters.
            for start in range(0, len(ids), 500):
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

    def write(self, changes: Sequence[Change]) -> list[WriteResult]:
        results: list[WriteResult] = []
        try:
            with self.conn:
                for change in changes:
                    try:
                        results.append(self._write_one(change))
                    except (TypeError, ValueError, ArithmeticError) as error:
                        # A malformed change fails alone; the rest of the batch still goes.
                        results.append(WriteResult(change, "failed", str(error) or "bad value"))
        except sqlite3.Error as error:
            raise self._error(error) from None
        return results

    def _write_one(self, change: Change) -> WriteResult:
        row = self.conn.execute(
            f"SELECT rowid, {change.field}, version FROM items WHERE side = ? AND id = ?",
            (self.side, change.item_id),
        ).fetchone()
        if row is None:
            return WriteResult(change, "failed", "item no longer exists")
        rowid, raw, version = row
        current: int | Decimal | None = raw if change.field == "quantity" else _money(raw)
        # The value, not the version, decides: a multi-field plan writes several fields of one
        # item in a batch, and each write bumps the version the next change was planned with.
        if current != change.before:
            field = change.field
            return WriteResult(
                change,
                "conflict",
                f"{field} is {_show(current)} now, was {_show(change.before)} when read",
                str(version),
            )
        after = change.after
        if after is None:
            return WriteResult(change, "failed", f"{change.field} cannot be emptied")
        if change.field == "quantity":
            if after < 0 and not self.capabilities.negative_quantity:
                return WriteResult(change, "failed", "the store cannot hold a negative quantity")
        elif after < 0:
            return WriteResult(change, "failed", f"{change.field} cannot be negative")
        self.conn.execute(
            f"UPDATE items SET {change.field} = ?, version = version + 1 WHERE rowid = ?",
            (remote.to_column(change.field, after), rowid),
        )
        return WriteResult(change, "done", None, str(version + 1))

    def _error(self, error: sqlite3.Error) -> ConnectorError:
        if not self.path.is_file():
            return ConnectorError(remote.MISSING)
        reason = " ".join(str(error).split())
        return ConnectorError(
            f"sandbox state is unreadable ({reason}); run `tui-sync demo --reset`"
        )
