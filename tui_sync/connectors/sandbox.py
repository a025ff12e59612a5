"""The in-process connector of the built-in sandbox: a store or a back office kept in SQLite.

It behaves like the real vendors where it matters to sync: the store refuses negative stock
(BigCommerce), the back office takes one field per call (an accounting API), and a value that
changed since it was read is reported as a conflict, never overwritten.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tui_sync.connectors.base import ConnectorError, Progress
from tui_sync.model import FIELDS, Capabilities, Change, Item, PendingLine, Side, WriteResult
from tui_sync.sandbox import remote

PAGE = 1000
ID_CHUNK = 500  # ids per IN (...) query: well under SQLite's limit on bound parameters

STORE_CAPABILITIES = Capabilities(
    writable=frozenset(FIELDS), multi_field_write=True, batch_size=50, negative_quantity=False
)
BACKOFFICE_CAPABILITIES = Capabilities(
    writable=frozenset(FIELDS), multi_field_write=False, batch_size=30, negative_quantity=True
)


@functools.lru_cache(maxsize=65_536)  # a few thousand distinct amounts; Decimal is immutable
def _money(text: str | None) -> Decimal | None:
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _show(value: int | Decimal | None) -> str:
    return "empty" if value is None else str(value)


class SandboxConnector:
    """One side of the sandbox pair. Owns one SQLite connection until `close()`."""

    kind = "sandbox"

    def __init__(self, path: Path, side: Side) -> None:
        self.path = path
        self.side: Side = side
        self.capabilities = STORE_CAPABILITIES if side == "store" else BACKOFFICE_CAPABILITIES
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
            if progress is not None:
                progress(0, total)
            done, last = 0, 0
            while True:
                # Keyset paging on (side, rowid): each page is one index range however deep,
                # and no cursor stays open while the caller consumes the page.
                page = self.conn.execute(
                    "SELECT rowid, id, sku, name, brand, quantity, price, cost, parent_id, "
                    "is_base, options, version FROM items "
                    "WHERE side = ? AND rowid > ? ORDER BY rowid LIMIT ?",
                    (self.side, last, PAGE),
                ).fetchall()
                if not page:
                    break
                last = page[-1][0]
                done += len(page)
                for _, id_, sku, name, brand, qty, price, cost, parent, base, opts, ver in page:
                    yield Item(
                        id_,
                        sku,
                        name,
                        brand,
                        qty,
                        _money(price),
                        _money(cost),
                        parent,
                        bool(base),
                        remote.decode_options(opts),
                        str(ver),
                    )
                if progress is not None:
                    # Items may be added behind our back while paging: never report done > total.
                    progress(done, max(total, done))
        except sqlite3.Error as error:
            raise self._error(error) from None

    def read_pending(self) -> Iterator[PendingLine]:
        """Store: lines of orders in a stock-taking status. The back office has no orders."""
        if self.side != "store":
            return
        marks = ",".join("?" * len(remote.PENDING_STATUSES))
        try:
            # A few per hundred SKUs: one query, fetched before the caller resumes.
            rows = self.conn.execute(
                "SELECT order_id, sku, quantity, status FROM orders "
                f"WHERE status IN ({marks}) ORDER BY rowid",
                remote.PENDING_STATUSES,
            ).fetchall()
        except sqlite3.Error as error:
            raise self._error(error) from None
        for order_id, sku, quantity, status in rows:
            yield PendingLine(order_id, sku, quantity, status)

    def posted_orders(self, order_ids: Sequence[str]) -> set[str]:
        """Back office: which of these store orders it has posted (none, on the store side)."""
        if self.side != "backoffice":
            return set()
        ids = list(dict.fromkeys(order_ids))
        posted: set[str] = set()
        try:
            for start in range(0, len(ids), ID_CHUNK):
                chunk = ids[start : start + ID_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self.conn.execute(
                    f"SELECT DISTINCT order_id FROM orders WHERE posted = 1 AND order_id IN ({marks})",
                    chunk,
                )
                posted.update(order_id for (order_id,) in rows)
        except sqlite3.Error as error:
            raise self._error(error) from None
        return posted

    def write(self, changes: Sequence[Change]) -> list[WriteResult]:
        """One result per change, in order; the batch is one transaction.

        BEGIN IMMEDIATE takes the write lock before the first check, so nobody can change a
        value between our comparing it with `before` and overwriting it. A storage error rolls
        the whole batch back and raises, so a raised error always means nothing was written.
        """
        conn = self.conn
        results: list[WriteResult] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for change in changes:
                    try:
                        results.append(self._write_one(conn, change))
                    except (TypeError, ValueError, ArithmeticError) as error:
                        # A malformed change fails alone; the rest of the batch still goes.
                        reason = " ".join(str(error).split()) or "bad value"
                        results.append(WriteResult(change, "failed", reason))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as error:
            raise self._error(error) from None
        return results

    def _write_one(self, conn: sqlite3.Connection, change: Change) -> WriteResult:
        field = change.field
        if change.side != self.side:
            return WriteResult(change, "failed", f"change is for the {change.side}, not here")
        if field not in FIELDS:
            return WriteResult(change, "failed", f"unknown field {field!r}")
        row = conn.execute(
            f"SELECT rowid, {field}, version, is_base FROM items WHERE side = ? AND id = ?",
            (self.side, change.item_id),
        ).fetchone()
        if row is None:
            return WriteResult(change, "failed", "item no longer exists")
        rowid, raw, version, is_base = row
        current = raw if field == "quantity" else _money(raw)
        # The value, not the version, decides: a multi-field plan writes several fields of one
        # item in one batch, and each write bumps the version the next change was planned with.
        if current != change.before:
            reason = f"{field} is {_show(current)} now, was {_show(change.before)} when read"
            return WriteResult(change, "conflict", reason, str(version))
        after = change.after
        if is_base:
            return WriteResult(change, "failed", "a base product has no stock or price of its own")
        if after is None:
            return WriteResult(change, "failed", f"{field} cannot be emptied")
        if after < 0:
            if field != "quantity":
                return WriteResult(change, "failed", f"{field} cannot be negative")
            if not self.capabilities.negative_quantity:
                return WriteResult(change, "failed", "the store cannot hold a negative quantity")
        conn.execute(
            f"UPDATE items SET {field} = ?, version = version + 1 WHERE rowid = ?",
            (remote.to_column(field, after), rowid),
        )
        return WriteResult(change, "done", None, str(version + 1))

    def _error(self, error: sqlite3.Error) -> ConnectorError:
        if not self.path.is_file():
            return ConnectorError(remote.MISSING)
        return remote.unreadable(error)
