"""Where the time of one write-path operation goes: cProfile (the main thread and the cache's
own thread, merged) and the slowest SQL statements, for a target the bench reports as missed.

    python bench/profile_write_path.py full-refresh --size 100000
    python bench/profile_write_path.py sync --dir /path/with/a/cache   # reuse a data dir
    targets: full-refresh, rebuild, inc-refresh, sync, diff-json, views

A statement's time runs from its trace callback to the next one on that connection (or to the end
of the cache thread's call), so it includes the Python between two statements: enough to name the
slow one. Only the cache's connections are traced; the sandbox's own SQLite (the stand-in for a
vendor) shows in the profile as `sqlite3.Connection` methods.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import write_path  # bench/ is on sys.path when this file runs as a script

SQL: dict[str, list[float]] = defaultdict(list)
THREAD_PROFILES: list[cProfile.Profile] = []


SHAPES: dict[str, str] = {}


def _shape(statement: str) -> str:
    """A statement with its literals as ? (the trace shows them bound), on one short line;
    cached by its first 160 characters, as executemany traces every row."""
    head = statement[:160]
    shape = SHAPES.get(head)
    if shape is None:
        shape = SHAPES[head] = _normalise(statement)
    return shape


def _normalise(statement: str) -> str:
    text = re.sub(r"'(?:[^']|'')*'", "?", " ".join(statement.split()))
    text = re.sub(r"\b\d+(\.\d+)?\b", "?", text)
    text = re.sub(r"\?(, \?)+", "?, ...", text)
    return text[:110]


OPEN: list[list[Any]] = []  # per traced connection: [statement, started]


def _close_statements() -> None:
    """End the last statement of each connection now (a cache call returned): its time must
    not run on into the idle time before the next call."""
    now = time.perf_counter()
    for last in OPEN:
        if last[0] is not None:
            SQL[last[0]].append(now - last[1])
            last[0] = None


def _trace(conn: sqlite3.Connection) -> None:
    last: list[Any] = [None, 0.0]
    OPEN.append(last)

    def seen(statement: str) -> None:
        now = time.perf_counter()
        if last[0] is not None:
            SQL[last[0]].append(now - last[1])
        last[0], last[1] = _shape(statement), now

    conn.set_trace_callback(seen)


def _instrument() -> None:
    """Trace every cache connection's SQL and profile the cache thread's calls."""
    from tui_sync import cache as cache_module

    init = cache_module.Cache.__init__

    def traced_init(self: Any, path: Path) -> None:
        init(self, path)
        _trace(self.conn)

    cache_module.Cache.__init__ = traced_init  # type: ignore[method-assign]
    call = cache_module.CacheThread.call

    async def profiled_call(self: Any, fn: Callable[..., Any], *args: object) -> Any:
        if not THREAD_PROFILES:
            THREAD_PROFILES.append(cProfile.Profile())
        prof = THREAD_PROFILES[0]

        def wrapped(*inner: Any) -> Any:
            try:
                return prof.runcall(fn, *inner)
            finally:
                _close_statements()

        return await call(self, wrapped, *args)

    cache_module.CacheThread.call = profiled_call  # type: ignore[method-assign]


def _prepare(size: int, data_dir: Path) -> None:
    from tui_sync.config import SANDBOX_PAIR
    from tui_sync.refresh import refresh
    from tui_sync.sandbox import state

    state.generate(data_dir, size)
    refresh(data_dir, SANDBOX_PAIR, full=True)


def _target(name: str, data_dir: Path) -> Callable[[], object]:
    from tui_sync.cache import Cache
    from tui_sync.config import SANDBOX_PAIR as pair
    from tui_sync.refresh import refresh

    if name == "full-refresh":
        return lambda: refresh(data_dir, pair, full=True)
    if name == "inc-refresh":
        write_path.plant(data_dir, write_path.spread(write_path.in_sync_rows(data_dir), 100))
        return lambda: refresh(data_dir, pair)
    if name == "rebuild":

        def rebuild() -> object:
            from tui_sync.reconcile import reconcile
            from tui_sync.sync import policy_for

            with Cache.open(data_dir) as cache, cache.transaction():
                return reconcile(cache, pair.name, policy_for(pair))

        return rebuild
    if name == "sync":
        picks = write_path.spread(write_path.in_sync_rows(data_dir), write_path.SYNC_N)
        skus = data_dir / "skus.txt"
        skus.write_text(",".join(sku for sku, _ in picks))
        write_path.plant(data_dir, picks)
        refresh(data_dir, pair)
        return lambda: write_path._step_sync(data_dir, skus)
    if name == "diff-json":
        from tui_sync import cli

        def diff() -> object:
            with open("/dev/null", "w") as sink:
                old, sys.stdout = sys.stdout, sink
                try:
                    return cli.main(["--data-dir", str(data_dir), "diff", "--json"])
                finally:
                    sys.stdout = old

        return diff
    if name == "views":
        return lambda: write_path._step_views(data_dir)
    raise SystemExit(f"unknown target {name}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("target")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, help="a data dir already generated and refreshed")
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tui-sync-profile-") as tmp:
        data_dir = args.dir or Path(tmp)
        if args.dir is None:
            _prepare(args.size, data_dir)
        action = _target(args.target, data_dir)
        _instrument()
        main_prof = cProfile.Profile()
        start = time.perf_counter()
        main_prof.runcall(action)
        wall = time.perf_counter() - start
    text = io.StringIO()
    stats = pstats.Stats(main_prof, stream=text)
    for prof in THREAD_PROFILES:
        stats.add(prof)
    stats.sort_stats("tottime").print_stats(args.top)
    print(f"{args.target}: {wall:.2f} s wall (under cProfile)")
    print("\n".join(line for line in text.getvalue().splitlines() if line.strip()))
    print(f"slowest SQL statements (total s, calls, statement), of {len(SQL)} distinct:")
    for statement, times in sorted(SQL.items(), key=lambda kv: -sum(kv[1]))[: args.top]:
        print(f"  {sum(times):7.3f} {len(times):6d}  {statement}")


if __name__ == "__main__":
    main()
