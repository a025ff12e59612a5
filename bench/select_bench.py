"""Benchmark (not a test): the selection keys and exports at size N, printed as a table.

    python bench/select_bench.py                  # 100k SKUs per side
    python bench/select_bench.py --size 1000000   # a million (generation and refresh: minutes)

Worker time is off the UI thread (it holds the GIL for its Python loops); "UI" is what the main
thread spends merging a mask into the grid's selection.
"""

from __future__ import annotations

import argparse
import io
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def timed(action: Callable[[], T]) -> tuple[T, float]:
    """The result and the CPU time it took (ms): the machine may be shared, wall time is not."""
    start = time.process_time()
    result = action()
    return result, (time.process_time() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    size = parser.parse_args().size

    from tui_sync import export, selection
    from tui_sync.cache import Cache
    from tui_sync.config import SANDBOX_PAIR
    from tui_sync.refresh import refresh
    from tui_sync.sandbox import catalog
    from tui_sync.sandbox.state import state_path
    from tui_sync.tui.grid import DiscrepancyGrid
    from tui_sync.views import VIEWS, ViewRows

    rows_out: list[tuple[str, str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        catalog.generate(state_path(data_dir), size)
        refresh(data_dir, SANDBOX_PAIR)
        pair = SANDBOX_PAIR.name
        with Cache.open(data_dir) as cache:
            every = ViewRows(cache, pair, VIEWS[0])
            out_of_sync = ViewRows(cache, pair, VIEWS[1])
            in_sync = next(r for r in every.fetch(0, 1000) if r.status.value == "in_sync")
            grid = DiscrepancyGrid(every)
            capacity = every.capacity

            (mask, found), ms = timed(
                lambda: selection.like_mask(data_dir, pair, VIEWS[0], "", in_sync, capacity)
            )
            rows_out.append((f"`,` like an in-sync row ({found:,} rows)", "worker", ms))
            _, ms = timed(lambda: grid.merge_selection(mask))
            rows_out.append(("`,` merge into the selection", "UI", ms))
            view_mask, ms = timed(lambda: selection.mask_of(out_of_sync.positions(), capacity))
            rows_out.append((f"`i` mask of Out of sync ({len(out_of_sync):,})", "worker", ms))
            _, ms = timed(lambda: grid.merge_selection(view_mask, invert=True))
            rows_out.append(("`i` invert (XOR) into the selection", "UI", ms))
            all_mask, ms = timed(lambda: selection.mask_of(every.positions(), capacity))
            rows_out.append((f"`v` range of all {len(every):,} rows", "worker", ms))
            _, ms = timed(lambda: grid.merge_selection(all_mask))
            rows_out.append(("`v` merge", "UI", ms))
            positions = grid.selected_positions()
            snapshot, ms = timed(lambda: selection.take_snapshot(data_dir, pair, positions))
            rows_out.append((f"refresh: snapshot of {len(positions):,} selected", "worker", ms))
            news, ms = timed(lambda: selection.compare_snapshot(data_dir, pair, snapshot))
            rows_out.append((f"refresh: compare ({news.line()})", "worker", ms))
            _, ms = timed(lambda: grid.set_selection_mask(news.mask))
            rows_out.append(("refresh: set the selection", "UI", ms))
            text, ms = timed(lambda: export.clipboard_text(every.fetch(0, 100)))
            rows_out.append(("`y`/`Y` clipboard text of 100 rows", "UI/worker", ms))
            path = data_dir / "all.csv"
            count, ms = timed(
                lambda: export.export_rows(data_dir, pair, every.positions(), "csv", path)
            )
            rows_out.append((f"`x` CSV of {count:,} rows", "worker", ms))
            path = data_dir / "all.json"
            count, ms = timed(
                lambda: export.export_rows(data_dir, pair, every.positions(), "json", path)
            )
            rows_out.append((f"`x` JSON of {count:,} rows", "worker", ms))
            assert text is not None and io.StringIO(text).readline().startswith("sku,")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    width = max(len(name) for name, _, _ in rows_out)
    print(f"selection and export at {size:,} SKUs per side (peak RSS {peak:.0f} MB)")
    for name, where, ms in rows_out:
        print(f"  {name:<{width}}  {where:<9} {ms:9.1f} ms CPU")


if __name__ == "__main__":
    main()
