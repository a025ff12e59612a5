"""Benchmarks (not tests): catalog size -> generation, refresh, reconcile, first paint, key
latency and peak memory, beside Textual's DataTable loading the same 10k rows as the reference.

    python bench/bench.py                 # 10k and 100k SKUs per side
    python bench/bench.py --huge          # and 1M (generation ~30 s, refresh ~2 min)
    python bench/bench.py --sizes 10000   # just one size
    python bench/bench.py --write-path    # issue 8's rows instead (bench/write_path.py):
                                          # sync, incremental refresh, diff --json, views,
                                          # RSS per command, cursor-down in tmux
    python bench/bench.py --triage        # sort, go to a SKU, breakdown (bench/triage.py)
    python bench/bench.py --http          # the BigCommerce and QuickBooks connectors over
                                          # HTTP (bench/http_path.py): 100 ms a request, the
                                          # vendors' rate limits; --sizes 10000 by default

Each size runs in a fresh process so that its peak RSS is its own. Key latencies are measured
through Textual's Pilot (key press -> handled -> screen refreshed) in a headless app of 120x40.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

TARGETS_100K = (
    "reconcile < 1 s, first paint < 300 ms, cursor-down median < 10 ms, "
    "details and view < 100 ms, RSS < 150 MB"
)
TARGETS_1M = "first paint < 1 s, RSS < 300 MB"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _timed(action: Callable[[], Awaitable[object]], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def _paint(grid: object) -> None:
    """Render every visible line of the grid, as the compositor would after a key."""
    height = grid.size.height  # type: ignore[attr-defined]
    for y in range(height):
        grid.render_line(y)  # type: ignore[attr-defined]


def _work(action: Callable[[], object], grid: object, repeat: int) -> tuple[float, float]:
    """Our own cost of a key: the handler plus repainting the grid's lines, without the test
    driver's fixed overhead (about 60 ms per press for any app, DataTable included)."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        _paint(grid)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


async def _measure_app(data_dir: Path) -> dict[str, object]:
    from tui_sync.config import SANDBOX_PAIR
    from tui_sync.tui.app import TuiSyncApp

    app = TuiSyncApp(data_dir, SANDBOX_PAIR, refresh_on_start=False)
    start = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        first_paint = (time.perf_counter() - start) * 1000
        grid = app.grid
        result: dict[str, object] = {"first_paint_ms": first_paint}
        # The grid's own first paint: build the All view over the cache and draw a screen.
        result["grid_paint_ms"] = _work(app._load_view, grid, 5)[0]
        result["pilot_down_ms"] = await _timed(lambda: pilot.press("down"), 30)
        result["down_ms"] = _work(lambda: grid.action_cursor(1), grid, 200)
        result["pagedown_ms"] = _work(lambda: grid.action_page(1), grid, 50)
        jumps = iter([grid.action_last, grid.action_first] * 10)
        result["end_ms"] = _work(lambda: next(jumps)(), grid, 20)

        def toggle() -> None:
            grid.show_details = not grid.show_details

        result["details_ms"] = _work(toggle, grid, 20)
        views = iter(["out_of_sync", "all"] * 10)
        result["view_ms"] = _work(lambda: app.action_view(next(views)), grid, 20)
    return result


def run_size(size: int) -> dict[str, object]:
    from tui_sync.cache import Cache
    from tui_sync.config import SANDBOX_PAIR
    from tui_sync.reconcile import Policy, reconcile
    from tui_sync.refresh import refresh
    from tui_sync.sandbox import state

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        start = time.perf_counter()
        state.generate(data_dir, size)
        out: dict[str, object] = {"size": size, "generate_s": time.perf_counter() - start}
        start = time.perf_counter()
        summary = refresh(data_dir, SANDBOX_PAIR)
        out["refresh_s"] = time.perf_counter() - start
        out["rows"] = summary.rows
        with Cache.open(data_dir) as cache:
            start = time.perf_counter()
            reconcile(cache, SANDBOX_PAIR.name, Policy())
            out["reconcile_s"] = time.perf_counter() - start
        out.update(asyncio.run(_measure_app(data_dir)))
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def run_datatable(rows: int) -> dict[str, object]:
    """Textual's own DataTable with the same columns: the reference for the virtual grid."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    class Reference(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable()

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            table.add_columns(
                "SKU", "Name", "St.Qty", "BO.Qty", "St.Price", "BO.Price", "Status", "Q", "P", "C"
            )
            table.add_rows(
                (
                    f"SKU-{i:07d}",
                    f"Product {i}",
                    i % 50,
                    i % 50,
                    "19.99",
                    "19.99",
                    "In sync",
                    "S",
                    "S",
                    "S",
                )
                for i in range(rows)
            )

    async def measure() -> dict[str, object]:
        app = Reference()
        start = time.perf_counter()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            first = (time.perf_counter() - start) * 1000
            down = await _timed(lambda: pilot.press("down"), 30)
        return {"first_paint_ms": first, "pilot_down_ms": down}

    result = asyncio.run(measure())
    result["size"] = rows
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def _child(args: list[str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _ms(pair: object) -> str:
    median, p95 = pair  # type: ignore[misc]
    return f"{median:.1f} / {p95:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--huge", action="store_true", help="add 1,000,000 SKUs per side")
    parser.add_argument(
        "--write-path", action="store_true", help="issue 8's write-path rows (write_path.py)"
    )
    parser.add_argument("--no-tmux", action="store_true", help="--write-path without tmux")
    parser.add_argument(
        "--triage", action="store_true", help="sort, go to a SKU, breakdown (triage.py)"
    )
    parser.add_argument(
        "--http", action="store_true", help="the HTTP connectors' rows (http_path.py)"
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--datatable", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_size(args.one)))
        return
    if args.datatable:
        print(json.dumps(run_datatable(args.datatable)))
        return
    if args.http:
        import http_path  # bench/ is on sys.path when this file runs as a script

        sizes = "10000" if args.sizes == parser.get_default("sizes") else args.sizes
        http_path.main(["--sizes", sizes])
        return
    if args.write_path:
        import write_path  # bench/ is on sys.path when this file runs as a script

        write_path.main(
            ["--sizes", args.sizes]
            + (["--huge"] if args.huge else [])
            + (["--no-tmux"] if args.no_tmux else [])
        )
        return
    if args.triage:
        import triage  # bench/ is on sys.path when this file runs as a script

        triage.main(["--sizes", args.sizes] + (["--huge"] if args.huge else []))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.huge and 1_000_000 not in sizes:
        sizes.append(1_000_000)
    results = [_child(["--one", str(size)]) for size in sizes]
    reference = _child(["--datatable", "10000"])
    header = (
        f"{'SKUs/side':>10} {'rows':>9} {'generate':>9} {'refresh':>8} {'reconcile':>9} "
        f"{'1st paint':>9} {'grid':>6} {'down':>11} {'pgdn':>11} {'end':>11} "
        f"{'details':>11} {'view':>11} {'pilot key':>9} {'peak RSS':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['size']:>10,} {r['rows']:>9,} {r['generate_s']:>8.2f}s {r['refresh_s']:>7.2f}s "
            f"{r['reconcile_s']:>8.2f}s {r['first_paint_ms']:>7.0f}ms {r['grid_paint_ms']:>6.1f} "
            f"{_ms(r['down_ms']):>11} {_ms(r['pagedown_ms']):>11} {_ms(r['end_ms']):>11} "
            f"{_ms(r['details_ms']):>11} {_ms(r['view_ms']):>11} "
            f"{r['pilot_down_ms'][0]:>9.0f} {r['peak_rss_mb']:>6.0f}MB"  # type: ignore[index]
        )
    print(
        f"{'DataTable':>10} {reference['size']:>9,} {'':>9} {'':>8} {'':>9} "
        f"{reference['first_paint_ms']:>7.0f}ms {'':>6} {'':>11} {'':>11} {'':>11} {'':>11} "
        f"{'':>11} {reference['pilot_down_ms'][0]:>9.0f} "  # type: ignore[index]
        f"{reference['peak_rss_mb']:>6.0f}MB"
    )
    print(
        "1st paint: app start to first screen through Pilot; grid: building the view and "
        "drawing it;\ndown/pgdn/end/details/view: median / p95 ms of the handler plus a full "
        "grid repaint;\npilot key: one key press end to end through Textual's test driver"
    )
    print(f"targets at 100k: {TARGETS_100K}; at 1M: {TARGETS_1M}")


if __name__ == "__main__":
    main()
