"""Benchmark (not a test): what a manual mapping costs at a catalog size, against a full
reconcile. Prints a table; wall and CPU seconds (the machine may be shared).

    python bench/mapping.py --size 100000            # generates and refreshes a sandbox
    python bench/mapping.py --data-dir DIR            # or reuses a refreshed sandbox data dir

Rows: map + unmap of two unmatched SKUs near the first row (the renumbering rewrites almost
every row after them) and near the last row (almost nothing), the picker's ranking for one
item, `map --suggest`, and a full reconcile for comparison.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tui_sync.cache import Cache
from tui_sync.config import SANDBOX_PAIR
from tui_sync.likeness import candidates_for, suggest, unmatched_item
from tui_sync.mapping import map_skus, unmap_sku
from tui_sync.reconcile import reconcile
from tui_sync.refresh import refresh
from tui_sync.sandbox.state import ensure_sandbox
from tui_sync.sync import policy_for

PAIR = SANDBOX_PAIR.name


def timed(label: str, action: Callable[[], object]) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    print(f"{label:<44} {time.perf_counter() - wall:>8.2f} s  ({time.process_time() - cpu:.2f})")


def unmatched_at(cache: Cache, side: str, last: bool) -> tuple[str, str]:
    status = "store_only" if side == "store" else "backoffice_only"
    column = "store_rid" if side == "store" else "backoffice_rid"
    sku, item_id = cache.conn.execute(
        f"SELECT i.sku, i.id FROM rows AS r JOIN items AS i ON i.rowid = r.{column} "
        f"WHERE r.pair = ? AND r.status = ? AND i.sku IS NOT NULL "
        f"ORDER BY r.pos {'DESC' if last else 'ASC'} LIMIT 1",
        (PAIR, status),
    ).fetchone()
    return str(sku), str(item_id)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp()) / "data"
    if args.data_dir is None:
        ensure_sandbox(data_dir, size=args.size)
        refresh(data_dir, SANDBOX_PAIR)
    policy = policy_for(SANDBOX_PAIR)
    with Cache.open(data_dir) as cache:
        rows = cache.conn.execute("SELECT count(*) FROM rows WHERE pair = ?", (PAIR,)).fetchone()
        print(f"mapping benchmark: {rows[0]:,} rows; seconds wall (CPU)")
        for where, last in (("first", False), ("last", True)):
            store, store_id = unmatched_at(cache, "store", last)
            back, _ = unmatched_at(cache, "backoffice", last)
            timed(
                f"map near the {where} row",
                lambda s=store, b=back: map_skus(cache, PAIR, policy, s, b),
            )
            timed(f"unmap near the {where} row", lambda s=store: unmap_sku(cache, PAIR, policy, s))
        item = unmatched_item(cache, PAIR, "store", store_id)
        assert item is not None
        timed("picker: rank one item's candidates", lambda: candidates_for(cache, PAIR, item))
        timed("map --suggest (20)", lambda: suggest(cache, PAIR, 20))
        timed("full reconcile (for comparison)", lambda: reconcile(cache, PAIR, policy))


if __name__ == "__main__":
    main()
