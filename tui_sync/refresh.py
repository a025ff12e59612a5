"""Refresh: both sides of a pair into the cache, then reconcile. Called by the CLI and by the
TUI's worker alike; it opens its own cache connection so it can run in any thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tui_sync.cache import Cache
from tui_sync.config import PairConfig
from tui_sync.connectors import open_pair
from tui_sync.connectors.base import Connector
from tui_sync.model import Item, PendingLine
from tui_sync.reconcile import Policy, reconcile

# progress(phase, done, total): phase is a short phrase for a progress bar's label.
RefreshProgress = Callable[[str, int, int | None], None]


@dataclass(frozen=True, slots=True)
class RefreshSummary:
    store_items: int
    backoffice_items: int
    pending_lines: int
    rows: int


def _unposted(store: Connector, backoffice: Connector) -> Iterator[PendingLine]:
    lines = list(store.read_pending())
    posted = backoffice.posted_orders(sorted({line.order_id for line in lines})) if lines else set()
    return (line for line in lines if line.order_id not in posted)


def _reading(connector: Connector, label: str, progress: RefreshProgress | None) -> Iterator[Item]:
    def report(done: int, total: int | None) -> None:
        if progress:
            progress(label, done, total)

    return connector.read_items(report)


def refresh(
    data_dir: Path, pair: PairConfig, progress: RefreshProgress | None = None
) -> RefreshSummary:
    """Pull every item of both sides and the pending orders, then rebuild the pair's rows.

    All of it is one transaction: an error part-way (an API failure, a malformed answer) leaves
    the previous cache intact, and readers (the grid) see the old rows until the commit."""
    store, backoffice = open_pair(data_dir, pair)
    try:
        with Cache.open(data_dir) as cache, cache.transaction():
            n_store = cache.replace_items(
                pair.name, "store", _reading(store, "Reading the store", progress)
            )
            n_back = cache.replace_items(
                pair.name, "backoffice", _reading(backoffice, "Reading the back office", progress)
            )
            if progress:
                progress("Reading pending orders", 0, None)
            n_pending = cache.replace_pending(pair.name, _unposted(store, backoffice))
            if progress:
                progress("Reconciling", 0, None)
            policy = Policy(pair.price_tolerance, store.capabilities, backoffice.capabilities)
            rows = reconcile(cache, pair.name, policy)
            cache.record_refresh(pair.name, n_store, n_back)
    finally:
        store.close()
        backoffice.close()
    return RefreshSummary(n_store, n_back, n_pending, rows)
