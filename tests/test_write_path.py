"""The write path one fault at a time, through the real console script (and in-process where the
CLI cannot reach): a crash between a write and its settling, a lost answer, a partial batch, a
value changed under a write, throttling, a rounded value, a source changed after the plan, undo
twice, undo of a value already back, undo while a write is unsettled, batch keys that never
collide, a connector that checks the journal inside `write`, and incremental refresh."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.writekit import (
    PAIR,
    Home,
    in_sync_with_quantity,
    journal_entries,
    plant_store_quantities,
    q_rows,
    refreshed_home,
    remote_value,
    run_ids,
    write_calls,
)
from tui_sync import journal, sync
from tui_sync.cache import Cache, CacheThread
from tui_sync.config import SANDBOX_PAIR, Connection
from tui_sync.connectors import Connectors, capabilities, open_connector
from tui_sync.connectors.bigcommerce import BigCommerceConnector
from tui_sync.connectors.http import new_client
from tui_sync.model import Batch, Capabilities, Item, Plan, Row, Side, WriteResult
from tui_sync.refresh import FULL_EVERY, refresh
from tui_sync.sandbox import outside, pair
from tui_sync.views import iter_rows

SIZE = 400
QTY = ("sync", "--to", "store", "--fields", "quantity", "--sku")
TO_BOOKS = ("sync", "--to", "backoffice", "--yes", "--fields", "quantity", "--sku")


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    with refreshed_home(tmp_path, SIZE) as home:
        yield home


def skus(rows: Sequence[Row]) -> str:
    return ",".join(r.sku for r in rows)


def store_id(row: Row) -> str:
    assert row.store is not None
    return row.store.id


def wanted(row: Row) -> str:
    assert row.backoffice is not None
    return str(row.backoffice.quantity)


def applied_to(home: Home, rows: Sequence[Row]) -> list[tuple[str, str, str, str | None]]:
    """The writes the store applied to these rows: (side, item id, field, value)."""
    ids = {store_id(r) for r in rows}
    return [w for w in outside.applied_writes(home.data) if w[0] == "store" and w[1] in ids]


def last_run(home: Home) -> str:
    return max(run_ids(home.data))


def test_crash_after_the_write_is_settled_done_by_the_next_sync(home: Home) -> None:
    rows = q_rows(home, 3)
    pair.set_switches(home.data, store={"crash_at": write_calls(home.data) + 1})
    crashed = home.run(*QTY, skus(rows))
    assert crashed.returncode == 137  # the store applied the batch and died before answering
    run_id = last_run(home)
    assert {e.result for e in journal_entries(home.data, [run_id])} == {"unknown"}
    assert all(remote_value(home.data, "store", store_id(r), "quantity") == wanted(r) for r in rows)
    # The next command settles it by reading the store; its own plan (made from the cache the
    # crash left behind) finds the values already there: done, not a conflict.
    again = home.run(*QTY, skus(rows))
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{len(rows)} done, 0 conflict(s), 0 failed" in again.stdout
    first = journal_entries(home.data, [run_id])
    assert {e.result for e in first} == {"done"}
    assert all((e.reason or "").startswith("recovered: the target holds") for e in first)
    assert all(e.result == "done" for e in journal_entries(home.data))
    assert len(applied_to(home, rows)) == len(rows)  # applied once, never again
    (shown,) = json.loads(home.ok("log", "--run", run_id, "--json").stdout)
    assert shown["state"] == "interrupted"
    assert all(r.cells["Q"] == "S" for r in home.rows() if r.key in {x.key for x in rows})


def test_a_lost_answer_is_settled_by_reading_back_in_the_same_run(home: Home) -> None:
    rows = q_rows(home, 4)
    pair.set_switches(home.data, store={"lose_at": write_calls(home.data) + 1})
    out = home.run(*QTY, skus(rows))
    assert out.returncode == 0, out.stdout + out.stderr
    entries = journal_entries(home.data, [last_run(home)])
    assert [(e.result, e.reason) for e in entries] == [("done", "confirmed by reading back")] * 4
    assert [e.written for e in entries] == [wanted(r) for r in rows]
    assert len(applied_to(home, rows)) == 4


def test_a_partial_batch_is_reported_truthfully(home: Home) -> None:
    rows = q_rows(home, 4)
    bad = rows[1]
    pair.set_switches(home.data, store={"reject_sku": bad.sku})
    out = home.run(*QTY, skus(rows))
    assert out.returncode == 1
    shown = " ".join(out.stdout.split())
    refused = "connections.sandbox-store: HTTP 422: The store refused this adjustment"
    # The whole adjustment call is refused [S6]; the writer then sends each item alone.
    assert f"failed {bad.sku} quantity: {bad.sku} quantity: {refused}" in shown
    entries = {e.sku: e for e in journal_entries(home.data, [last_run(home)])}
    assert entries[bad.sku].result == "failed"
    assert all(entries[r.sku].result == "done" for r in rows if r is not bad)
    for r in rows:
        held = remote_value(home.data, "store", store_id(r), "quantity")
        assert (held == wanted(r)) is (r is not bad)


def test_a_value_changed_under_the_write_is_a_conflict_and_the_cache_shows_it(home: Home) -> None:
    """A bookkeeper changes a quantity in QuickBooks just as our write of it arrives: the
    SyncToken we read is stale, so it is a conflict, never overwritten. (BigCommerce has no
    compare-and-set: its connector checks just before writing, CONNECTORS.md 1.4.)"""
    rows = q_rows(home, 3)
    target = rows[2]
    assert target.backoffice is not None and target.store is not None
    behind = {target.backoffice.id: {"QtyOnHand": 777}}
    pair.set_switches(home.data, books={"change_at_write": behind})
    out = home.run(*TO_BOOKS, skus(rows))
    assert out.returncode == 1
    entries = {e.sku: e for e in journal_entries(home.data, [last_run(home)])}
    hit = entries[target.sku]
    assert (hit.result, hit.reason) == (
        "conflict",
        f"quantity is 777 now, was {target.backoffice.quantity} when read "
        "(QBO's SyncToken moved on: not overwritten)",
    )
    assert remote_value(home.data, "backoffice", target.backoffice.id, "quantity") == "777"
    cached = next(r for r in home.rows() if r.key == target.key)  # no refresh in between
    assert cached.backoffice is not None and cached.backoffice.quantity == 777
    assert all(entries[r.sku].result == "done" for r in rows[:2])


def test_throttling_is_retried_until_done_and_nothing_doubles(home: Home) -> None:
    rows = q_rows(home, 5)
    calls = write_calls(home.data)
    pair.set_switches(home.data, store={"throttle_writes": 3})
    out = home.run(*QTY, skus(rows))
    assert out.returncode == 0, out.stdout + out.stderr
    assert write_calls(home.data) == calls + 4  # three 429s, then the write
    assert {e.result for e in journal_entries(home.data, [last_run(home)])} == {"done"}
    applied = applied_to(home, rows)
    assert len(applied) == 5  # one batch, applied once


class _Throttling:
    """A store that asks to come back later, twice, and notes when each call came."""

    def __init__(self) -> None:
        self.capabilities = Capabilities()
        self.side: Side = "store"
        self.calls: list[tuple[float, str, int]] = []

    async def write(self, batch: Batch) -> list[WriteResult]:
        self.calls.append((time.monotonic(), batch.key, len(batch.changes)))
        if len(self.calls) <= 2:
            return [WriteResult(c.id, "throttled", "429", retry_after=0.15) for c in batch.changes]
        return [WriteResult(c.id, "done", None, c.after) for c in batch.changes]


async def test_a_throttled_batch_waits_the_time_asked_and_keeps_its_key() -> None:
    from tui_sync.model import Change

    store = _Throttling()
    batch = Batch("k-1", (Change("A", "store", "1", "quantity", 1, 2, id=7),))
    results = await sync._send(store, batch)  # type: ignore[arg-type]
    assert [r.outcome for r in results] == ["done"]
    times = [t for t, _, _ in store.calls]
    assert all(b - a >= 0.15 for a, b in itertools.pairwise(times))
    assert {key for _, key, _ in store.calls} == {"k-1"}


def test_a_rounded_price_is_written_as_the_store_holds_it_and_then_reads_equal(
    home: Home,
) -> None:
    row = next(
        r
        for r in home.rows(["in_sync"])
        if r.store and r.backoffice and r.backoffice.price is not None
    )
    assert row.backoffice is not None
    outside.set_value(home.data, "backoffice", row.backoffice.id, "price", "12.34567")
    home.ok("refresh")
    out = home.run("sync", "--to", "store", "--fields", "price", "--sku", row.sku)
    assert out.returncode == 0, out.stdout + out.stderr
    shown = " ".join(out.stdout.split())
    assert f"note {row.sku} price: 12.34567 is written as 12.3457, as the store keeps it" in shown
    (change,) = json.loads(home.ok("log", "--run", last_run(home), "--json").stdout)[0]["changes"]
    assert (change["after"], change["result"]) == ("12.3457", "done")
    assert remote_value(home.data, "store", store_id(row), "price") == "12.3457"
    home.ok("refresh")
    again = next(r for r in home.rows() if r.key == row.key)
    assert again.cells["P"] == "S"
    dry = home.run("sync", "--to", "store", "--fields", "price", "--sku", row.sku, "--dry-run")
    assert dry.stdout.startswith("Plan: 0 change(s)"), dry.stdout
    # With no tolerance the same write is refused, and says why.
    strict = replace(SANDBOX_PAIR, price_tolerance=Decimal(0))
    refused = sync.plan(
        strict,
        [again],
        "store",
        ("price",),
        capabilities(strict.store, "store"),
        capabilities(strict.backoffice, "backoffice"),
    )
    assert refused.is_empty
    assert [(r.sku, r.field, r.reason) for r in refused.refusals] == [
        (
            row.sku,
            "price",
            "price 12.34567: the store keeps 4 decimals, and 12.3457 would stay out of tolerance",
        )
    ]


def test_a_source_changed_after_the_refresh_is_reported_not_written_stale(home: Home) -> None:
    (row,) = q_rows(home, 1)
    assert row.backoffice is not None and row.store is not None
    outside.set_value(home.data, "backoffice", row.backoffice.id, "quantity", 38)
    home.ok("refresh")
    outside.set_value(home.data, "backoffice", row.backoffice.id, "quantity", 47)  # after the plan
    out = home.run(*QTY, row.sku)
    assert out.returncode == 1
    assert "the back office now says 47 (was 38 when planned): not written stale" in out.stdout
    assert remote_value(home.data, "store", row.store.id, "quantity") == str(row.store.quantity)
    assert applied_to(home, [row]) == []


def test_undo_twice_writes_once(home: Home) -> None:
    rows = q_rows(home, 3)
    home.ok(*QTY, skus(rows))
    run_id = last_run(home)
    home.ok("undo", run_id)
    writes, runs = len(outside.applied_writes(home.data)), run_ids(home.data)
    second = home.run("undo", run_id)
    assert second.returncode == 0
    assert "already undone" in second.stderr and len(second.stderr.strip().splitlines()) == 1
    assert len(outside.applied_writes(home.data)) == writes and run_ids(home.data) == runs
    for r in rows:
        assert r.store is not None
        assert remote_value(home.data, "store", r.store.id, "quantity") == str(r.store.quantity)


def test_undo_of_a_value_already_back_is_already_equal_not_a_conflict(home: Home) -> None:
    (row,) = q_rows(home, 1)
    assert row.store is not None
    home.ok(*QTY, row.sku)
    run_id = last_run(home)
    outside.set_value(home.data, "store", row.store.id, "quantity", row.store.quantity)
    writes = len(outside.applied_writes(home.data))
    out = home.run("undo", run_id)
    assert out.returncode == 0, out.stdout + out.stderr
    (entry,) = journal_entries(home.data, [last_run(home)])
    assert entry.result == "done" and "already equal" in (entry.reason or ""), entry
    assert len(outside.applied_writes(home.data)) == writes  # nothing written


class _Unreadable(BigCommerceConnector):
    """A store whose answers are lost and that cannot be read back afterwards: writes stay
    unknown. (Its own check before writing still reads: BigCommerce's writer reads first.)"""

    readable = False
    writing = False

    async def write(self, batch: Batch) -> list[WriteResult]:
        self.writing = True
        try:
            await super().write(batch)
        finally:
            self.writing = False
        return []

    async def read_current(self, item_ids: Sequence[str]) -> dict[str, Item]:
        if not (self.readable or self.writing):
            raise ConnectionError("connection reset")
        return await super().read_current(item_ids)


@asynccontextmanager
async def served(
    home: Home, make_store: Callable[[Connection, httpx.AsyncClient], BigCommerceConnector]
) -> AsyncIterator[Connectors]:
    """The sandbox pair's servers, a store made by `make_store` and the real back office."""
    with pair.serving(home.data, SANDBOX_PAIR) as running:
        async with new_client() as client:
            store = make_store(running.store, client)
            books = open_connector(home.data, running.backoffice, "backoffice", None, client)
            try:
                yield Connectors(store, books)
            finally:
                await books.aclose()


async def test_undo_refuses_while_its_run_has_an_unknown_that_cannot_be_read(home: Home) -> None:
    rows = q_rows(home, 2)
    with Cache.open(home.data) as cache:
        the_plan = plan_for(cache, rows)
    db = CacheThread(home.data)
    try:
        async with served(home, lambda c, client: _Unreadable(c, "store", client)) as conns:
            store = conns.store
            assert isinstance(store, _Unreadable)
            run = await sync.apply_plan(db, SANDBOX_PAIR, the_plan, conns)
            assert {c.result for c in run.changes} == {"unknown"}
            assert (await sync.recover(db, SANDBOX_PAIR, conns)).unknown == 2  # still unreadable
            with Cache.open(home.data) as cache, pytest.raises(sync.Unsettled, match="unsettled"):
                sync.plan_undo(cache, SANDBOX_PAIR, run.run_id)
            store.readable = True
            assert (await sync.recover(db, SANDBOX_PAIR, conns)).done == 2
    finally:
        db.close()
    with Cache.open(home.data) as cache:
        assert len(sync.plan_undo(cache, SANDBOX_PAIR, run.run_id).changes) == 2


def plan_for(cache: Cache, rows: Sequence[Row], fields: tuple[str, ...] = ("quantity",)) -> Plan:
    keys = {r.key for r in rows}
    fresh = [r for r in iter_rows(cache, PAIR) if r.key in keys]
    return sync.plan(
        SANDBOX_PAIR,
        fresh,
        "store",
        fields,  # type: ignore[arg-type]
        capabilities(SANDBOX_PAIR.store, "store"),
        capabilities(SANDBOX_PAIR.backoffice, "backoffice"),
    )


def test_batch_keys_never_repeat_even_when_the_cache_starts_over(home: Home) -> None:
    """The CLI itself says to move a corrupt cache aside: run ids then start again at -0001,
    and a batch key the store already saw must not be answered from its record."""
    rows = q_rows(home, 3)
    home.ok(*QTY, skus(rows))
    first = {e.batch for e in journal_entries(home.data)}
    for name in ("cache.db", "cache.db-wal", "cache.db-shm"):
        if (home.data / name).exists():
            shutil.move(home.data / name, home.data / f"{name}.aside")
    home.ok("refresh")
    fresh = in_sync_with_quantity(home.rows())[:5]
    import random

    plant_store_quantities(home.data, [store_id(r) for r in fresh], random.Random(5))
    home.ok("refresh")
    earlier = len(applied_to(home, fresh))  # the first sync may have written one of them
    out = home.run(*QTY, skus(fresh))
    assert out.returncode == 0, out.stdout + out.stderr
    entries = journal_entries(home.data)
    assert {e.result for e in entries} == {"done"}
    assert not {e.batch for e in entries} & first
    assert all(
        remote_value(home.data, "store", store_id(r), "quantity") == wanted(r) for r in fresh
    )
    assert len(applied_to(home, fresh)) - earlier == 5


class _Journaled(BigCommerceConnector):
    """A store that checks, inside `write`, that the batch is journaled and committed (in the
    cache file, from its own connection) as `unknown` under the batch's key before anything is
    applied; and answers in reverse order, so that results matched by position would be wrong."""

    def __init__(self, connection: Connection, client: httpx.AsyncClient, cache_file: Path) -> None:
        super().__init__(connection, "store", client)
        self.cache_file = cache_file
        self.checked = 0

    async def write(self, batch: Batch) -> list[WriteResult]:
        import sqlite3

        conn = sqlite3.connect(self.cache_file)
        try:
            found = conn.execute(
                "SELECT seq, result, item_id, after FROM journal WHERE batch = ?", (batch.key,)
            ).fetchall()
        finally:
            conn.close()
        expected = {
            (c.id, "unknown", c.item_id, journal.value_text(c.after)) for c in batch.changes
        }
        assert set(found) == expected, (batch.key, found)
        self.checked += len(batch.changes)
        return list(reversed(await super().write(batch)))


async def test_a_connector_sees_its_changes_journaled_before_write(home: Home) -> None:
    rows = in_sync_with_quantity(home.rows())[:120]
    plant_store_quantities(home.data, [store_id(r) for r in rows], __import__("random").Random(9))
    await asyncio.to_thread(refresh, home.data, SANDBOX_PAIR)
    with Cache.open(home.data) as cache:
        the_plan = plan_for(cache, rows)
    assert len(the_plan.changes) == 120  # three batches of the store's 50
    db = CacheThread(home.data)
    cache_file = home.data / "cache.db"
    try:
        async with served(home, lambda c, client: _Journaled(c, client, cache_file)) as conns:
            store = conns.store
            assert isinstance(store, _Journaled)
            await sync.recover(db, SANDBOX_PAIR, conns)
            run = await sync.apply_plan(db, SANDBOX_PAIR, the_plan, conns)
    finally:
        db.close()
    # An assertion failing inside `write` reaches the core as an error ("sent or not, nobody
    # knows": unknown, settled by a read), so the count is what proves every batch was checked.
    assert store.checked == 120
    by_item = {c.item_id: c for c in the_plan.changes}
    assert all(e.result == "done" for e in run.changes)
    assert all(e.written == journal.value_text(by_item[e.item_id or ""].after) for e in run.changes)
    for change in the_plan.changes:
        held = remote_value(home.data, "store", change.item_id, "quantity")
        assert held == str(change.after)


def test_incremental_refresh_reads_only_what_changed_and_keeps_row_keys(home: Home) -> None:
    def by_key() -> dict[str, Row]:
        with Cache.open(home.data) as cache:
            return {r.key: r for r in iter_rows(cache, PAIR)}

    full = refresh(home.data, SANDBOX_PAIR, full=True)
    assert full.full and full.read == full.store_items + full.backoffice_items
    before = by_key()
    changed = in_sync_with_quantity(before.values())[:6]
    for n, row in enumerate(changed[:5]):
        outside.set_value(home.data, "store", store_id(row), "quantity", 500 + n)
    gone = changed[5]
    assert gone.backoffice is not None
    outside.delete_item(home.data, "backoffice", gone.backoffice.id)
    summary = refresh(home.data, SANDBOX_PAIR)
    assert not summary.full
    # The five changed items, read with the rest of their products (BigCommerce answers whole
    # products: a base and up to 5 variants); the deletion is reported, not read.
    assert 5 <= summary.read <= 5 * 6, summary.read
    after = by_key()
    assert set(after) == set(before)  # stable identity: every row keeps its key
    for n, row in enumerate(changed[:5]):
        now = after[row.key]
        assert now.store is not None and now.store.quantity == 500 + n
        assert now.cells["Q"] == "N"
    assert after[gone.key].backoffice is None and after[gone.key].status.value == "store_only"
    untouched = set(before) - {r.key for r in changed}
    assert all(after[k].cells == before[k].cells for k in untouched)
    # Every FULL_EVERYth refresh is full again, to catch what an API cannot report.
    kinds = [refresh(home.data, SANDBOX_PAIR).full for _ in range(FULL_EVERY + 1)]
    assert kinds == [False] * (FULL_EVERY - 2) + [True] + [False] * 2
