"""Refresh: both sides of a pair into the cache, then reconcile.

Both sides are read at once, each page staged in a short transaction of its own, so no write
lock is held across the reads: the grid and the CLI read the old rows meanwhile, and a sync of
another pair is never kept waiting. Then one transaction swaps the staged items in (upserts by
id: rows keep their identity) and reconciles; a refresh that fails part-way loses nothing.

After a first full read, a side whose connector reports changes since a watermark is read
incrementally; every `FULL_EVERY`th refresh is full again, to catch what an API cannot report.
When only values changed, only the touched rows are rescored; a new, gone or re-keyed item
rebuilds the pairing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tui_sync.cache import Cache, CacheThread
from tui_sync.config import PairConfig
from tui_sync.connectors import Connectors, pair_connectors
from tui_sync.connectors.base import Connector
from tui_sync.lock import PairLock
from tui_sync.model import SIDES, PendingLine, Side, side_label
from tui_sync.reconcile import reconcile, rescore_items
from tui_sync.sync import NOTHING_RECOVERED, Recovered, policy_for, recover

# progress(phase, done, total): phase is a short phrase for a progress bar's label.
RefreshProgress = Callable[[str, int, int | None], None]

FULL_EVERY = 10


@dataclass(frozen=True, slots=True)
class RefreshSummary:
    store_items: int
    backoffice_items: int
    pending_lines: int
    rows: int
    full: bool = True
    read: int = 0  # items read from both sides (all of them on a full refresh)
    rescored_only: bool = False
    recovered: Recovered = NOTHING_RECOVERED


def refresh(
    data_dir: Path,
    pair: PairConfig,
    progress: RefreshProgress | None = None,
    full: bool = False,
    wait: float = 0.0,
) -> RefreshSummary:
    """Refresh a pair while holding it (one run at a time per pair)."""
    with PairLock(data_dir, pair.name, "refresh", wait):
        return asyncio.run(_refresh(data_dir, pair, progress, full))


async def _refresh(
    data_dir: Path, pair: PairConfig, progress: RefreshProgress | None, full: bool
) -> RefreshSummary:
    db = CacheThread(data_dir)
    try:
        # No signal handlers: SIGINT or SIGTERM end a refresh at once, which is safe, since
        # nothing is swapped in until the last, single transaction (SQLite rolls it back).
        async with pair_connectors(data_dir, pair) as conns:
            recovered = await recover(db, pair, conns)
            return await refresh_with(db, pair, conns, progress, full, recovered)
    finally:
        db.close()


async def refresh_with(
    db: CacheThread,
    pair: PairConfig,
    conns: Connectors,
    progress: RefreshProgress | None = None,
    force_full: bool = False,
    recovered: Recovered = NOTHING_RECOVERED,
) -> RefreshSummary:
    info = await db.call(lambda cache: cache.refresh_info(pair.name))
    marks: dict[Side, str | None] = {}
    for side in SIDES:
        connector = conns[side]
        incremental = (
            not force_full
            and info is not None
            and info.since_full + 1 < FULL_EVERY
            and connector.capabilities.incremental
            and info.mark(side) is not None
        )
        marks[side] = info.mark(side) if incremental and info is not None else None
    full = any(mark is None for mark in marks.values())
    if full:  # both sides together, so the pairing sees one consistent moment
        marks = {"store": None, "backoffice": None}
    await db.call(lambda cache: cache.clear_stage(pair.name))

    async def deleted_of(side: Side) -> list[str]:
        mark = marks[side]
        return [] if mark is None else await conns[side].read_deleted(mark)

    try:
        # Items, deletions and pending orders are independent reads: all at once, so a refresh
        # over HTTP waits for the slowest of them, not for their sum (an incremental refresh
        # is mostly these small reads).
        reads = asyncio.gather(
            asyncio.gather(
                *(_stage(db, pair.name, conns[side], marks[side], progress) for side in SIDES)
            ),
            asyncio.gather(deleted_of("store"), deleted_of("backoffice")),
            _unposted(conns.store, conns.backoffice),
        )
        try:
            counts, (gone_store, gone_back), lines = await reads
        except BaseException:
            reads.cancel()  # one read failed: the others stop too, before the client closes
            raise
        deleted = {"store": gone_store, "backoffice": gone_back}
        if progress:
            progress("Reconciling", 0, None)
        new_marks = (conns.store.watermark(), conns.backoffice.watermark())
        policy = policy_for(pair)

        def swap(cache: Cache) -> RefreshSummary:
            with cache.transaction():
                before = cache.pending_signature(pair.name)
                last = cache.refresh_info(pair.name)
                counted: dict[str, int | None] = {
                    "store": None if last is None else last.store_items,
                    "backoffice": None if last is None else last.backoffice_items,
                }
                store = cache.swap_in(pair.name, "store", full, deleted["store"], counted["store"])
                back = cache.swap_in(
                    pair.name, "backoffice", full, deleted["backoffice"], counted["backoffice"]
                )
                n_pending = cache.replace_pending(pair.name, lines)
                pending_changed = cache.pending_signature(pair.name) != before
                has_rows = cache.conn.execute(
                    "SELECT 1 FROM rows WHERE pair = ? LIMIT 1", (pair.name,)
                ).fetchone()
                # A config change (tolerance, quantity buffer) rescores every row.
                same_policy = cache.scored_with(pair.name) == policy.signature
                rescored_only = (
                    not (store.repair or back.repair or pending_changed)
                    and same_policy
                    and bool(has_rows or not (store.count or back.count))
                )
                if rescored_only:
                    rescore_items(cache, pair.name, policy, [*store.changed, *back.changed])
                    rows = int(
                        cache.conn.execute(
                            "SELECT count(*) FROM rows WHERE pair = ?", (pair.name,)
                        ).fetchone()[0]
                    )
                else:
                    rows = reconcile(cache, pair.name, policy)
                cache.record_refresh(
                    pair.name, store.count, back.count, new_marks, full, pair.guard_short_read
                )
                cache.record_scored_with(pair.name, policy.signature)
            return RefreshSummary(
                store.count,
                back.count,
                n_pending,
                rows,
                full,
                sum(counts),
                rescored_only,
                recovered,
            )

        return await db.call(swap)
    except BaseException:
        await asyncio.shield(db.call(lambda cache: cache.clear_stage(pair.name)))
        raise


async def _stage(
    db: CacheThread,
    pair: str,
    connector: Connector,
    since: str | None,
    progress: RefreshProgress | None,
) -> int:
    label = f"Reading the {side_label(connector.side)}"

    def report(done: int, total: int | None) -> None:
        if progress:
            progress(label, done, total)

    count = 0
    async for page in connector.read_items(since, report):
        count += await db.call(lambda cache, page=page: cache.stage(pair, connector.side, page))
    return count


async def _unposted(store: Connector, backoffice: Connector) -> list[PendingLine]:
    lines = await store.read_pending()
    ids = sorted({line.order_id for line in lines})
    posted = await backoffice.posted_orders(ids) if ids else set()
    return [line for line in lines if line.order_id not in posted]
