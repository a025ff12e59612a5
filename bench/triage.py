"""Triage benchmarks ("Find and order"): sort by value at risk, go to a SKU, the breakdown.

    python bench/bench.py --triage                 # 10k and 100k SKUs per side
    python bench/bench.py --triage --huge          # and 1M (generation and refresh take minutes)
    python bench/triage.py --sizes 100000          # this module on its own

Each size runs in a fresh process. Two kinds of rows:
- core: the query a worker runs, on its own connection (median of 3, milliseconds);
- console: end to end in a headless app of 120x40, from the action to the result on screen
  (the worker, its message, the grid's repaint), polled every 2 ms; and the cursor-down
  latency on the UI thread while a sort of the whole pair is being computed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
PAIR = "sandbox"
REPEAT = 3
TARGET_MS = 500.0  # at 1,000,000 SKUs per side, for each of: sort, go to, breakdown


def _median_ms(action: Callable[[], object], repeat: int = REPEAT) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _core(data_dir: Path) -> dict[str, Any]:
    from tui_sync.breakdown import breakdown, find_sku
    from tui_sync.cache import Cache
    from tui_sync.views import SORT_BY_KEY, VIEW_BY_KEY, index_in, view_order

    risk, out = SORT_BY_KEY["risk"], VIEW_BY_KEY["out_of_sync"]
    result: dict[str, Any] = {}
    with Cache.open(data_dir) as cache:
        order = view_order(cache, PAIR, sort=risk)
        middle = cache.conn.execute(
            "SELECT sku FROM rows WHERE pair = ? AND pos = ?", (PAIR, len(order) // 2)
        ).fetchone()[0]
        result["rows"] = len(order)
        result["sort_risk_all_ms"] = _median_ms(lambda: view_order(cache, PAIR, sort=risk))
        result["sort_risk_out_ms"] = _median_ms(lambda: view_order(cache, PAIR, out, sort=risk))
        result["sort_name_all_ms"] = _median_ms(
            lambda: view_order(cache, PAIR, sort=SORT_BY_KEY["name"])
        )
        result["sort_status_all_ms"] = _median_ms(
            lambda: view_order(cache, PAIR, sort=SORT_BY_KEY["status"])
        )

        def go(text: str) -> None:
            found = find_sku(cache, PAIR, text)
            assert found is not None, text
            index_in(order, found.pos)

        result["goto_exact_ms"] = _median_ms(lambda: go(middle))
        result["goto_prefix_ms"] = _median_ms(lambda: go(middle[:-1]))
        result["goto_fuzzy_ms"] = _median_ms(lambda: go(middle.replace("-", "")))
        result["breakdown_all_ms"] = _median_ms(lambda: breakdown(cache, PAIR))
        result["breakdown_out_ms"] = _median_ms(lambda: breakdown(cache, PAIR, out))
    result["goto_sku"] = middle
    return result


async def _console(data_dir: Path, sku: str) -> dict[str, Any]:
    from tui_sync.config import SANDBOX_PAIR
    from tui_sync.tui.app import TuiSyncApp
    from tui_sync.tui.screens.triage import BreakdownScreen
    from tui_sync.views import SORT_BY_KEY

    app = TuiSyncApp(data_dir, SANDBOX_PAIR, refresh_on_start=False)
    result: dict[str, Any] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        grid = app.grid

        def paint() -> None:
            for y in range(grid.size.height):
                grid.render_line(y)

        async def until(done: Callable[[], bool]) -> None:
            while not done():
                await asyncio.sleep(0.002)

        # Sort: from the choice to the sorted screen painted; the cursor moves meanwhile.
        downs: list[float] = []
        start = time.perf_counter()
        app._sort_chosen(SORT_BY_KEY["risk"])
        while app.ordering:
            tick = time.perf_counter()
            grid.action_cursor(1)
            paint()
            downs.append((time.perf_counter() - tick) * 1000)
            await asyncio.sleep(0.005)
        paint()
        result["console_sort_ms"] = (time.perf_counter() - start) * 1000
        result["down_during_sort_ms"] = (
            statistics.median(downs) if downs else 0.0,
            max(downs, default=0.0),
            len(downs),
        )
        # Go to a SKU: from Enter to the cursor on its row.
        start = time.perf_counter()
        app._goto_chosen(sku)
        await until(lambda: grid.current_row is not None and grid.current_row.sku == sku)
        paint()
        result["console_goto_ms"] = (time.perf_counter() - start) * 1000
        # The breakdown: from `F` to its lines counted.
        start = time.perf_counter()
        app.action_breakdown()
        await until(lambda: isinstance(app.screen, BreakdownScreen) and bool(app.screen.lines))
        result["console_breakdown_ms"] = (time.perf_counter() - start) * 1000
    return result


def run_one(size: int) -> dict[str, Any]:
    from tui_sync.cache import Cache
    from tui_sync.config import SANDBOX_PAIR
    from tui_sync.reconcile import Policy, reconcile
    from tui_sync.refresh import refresh
    from tui_sync.sandbox import catalog
    from tui_sync.sandbox.state import state_path

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        catalog.generate(state_path(data_dir), size)
        start = time.perf_counter()
        refresh(data_dir, SANDBOX_PAIR)
        out: dict[str, Any] = {"size": size, "refresh_s": time.perf_counter() - start}
        with Cache.open(data_dir) as cache:
            start = time.perf_counter()
            reconcile(cache, PAIR, Policy())
            out["reconcile_s"] = time.perf_counter() - start
        out.update(_core(data_dir))
        out.update(asyncio.run(_console(data_dir, str(out["goto_sku"]))))
    return out


ROWS = (
    ("sort by value at risk, All (core)", "sort_risk_all_ms", True),
    ("sort by value at risk, Out of sync (core)", "sort_risk_out_ms", False),
    ("sort by name, All (core)", "sort_name_all_ms", False),
    ("sort by status, All (core)", "sort_status_all_ms", False),
    ("sort by value at risk: console, to screen", "console_sort_ms", True),
    ("go to a SKU: exact (core)", "goto_exact_ms", True),
    ("go to a SKU: its start (core)", "goto_prefix_ms", True),
    ("go to a SKU: fuzzy, letters in order (core)", "goto_fuzzy_ms", False),
    ("go to a SKU: console, to the cursor", "console_goto_ms", True),
    ("breakdown of All (core)", "breakdown_all_ms", True),
    ("breakdown of Out of sync (core)", "breakdown_out_ms", False),
    ("breakdown: console, to its lines", "console_breakdown_ms", True),
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--huge", action="store_true", help="add 1,000,000 SKUs per side")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.huge and 1_000_000 not in sizes:
        sizes.append(1_000_000)
    results = []
    for size in sizes:
        done = subprocess.run(
            [sys.executable, str(HERE), "--one", str(size)],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    stamp = time.strftime("%Y-%m-%d %H:%M")
    print(f"triage (find and order), {stamp}, {os.cpu_count()} cores, load {os.getloadavg()}")
    width = 46
    head = f"{'SKUs/side':<{width}}" + "".join(f"{r['size']:>12,}" for r in results)
    print(head + "   target")
    print("-" * (len(head) + 30))
    print(f"{'rows':<{width}}" + "".join(f"{r['rows']:>12,}" for r in results))
    print(f"{'refresh (full)':<{width}}" + "".join(f"{r['refresh_s']:>10.2f} s" for r in results))
    print(
        f"{'reconcile alone':<{width}}" + "".join(f"{r['reconcile_s']:>10.2f} s" for r in results)
    )
    huge = next((r for r in results if r["size"] >= 1_000_000), None)
    for label, key, targeted in ROWS:
        cells = "".join(f"{r[key]:>9.1f} ms" for r in results)
        verdict = ""
        if targeted:
            verdict = f"< {TARGET_MS:.0f} ms at 1,000,000"
            if huge is not None:
                verdict += ": met" if huge[key] < TARGET_MS else ": MISSED"
        print(f"{label:<{width}}{cells}   {verdict}")
    for r in results:
        median, worst, count = r["down_during_sort_ms"]
        print(
            f"cursor-down while sorting {r['size']:,}: median {median:.1f} ms, "
            f"max {worst:.1f} ms over {count} presses"
        )


if __name__ == "__main__":
    main()
