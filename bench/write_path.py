"""Write-path benchmarks (issue 8): sync, incremental refresh, diff --json, view switch, RSS,
and cursor-down in a real terminal (tmux) at rest and during a refresh.

    python bench/bench.py --write-path                  # 10k and 100k SKUs per side
    python bench/bench.py --write-path --sizes 10000    # a quick run
    python bench/bench.py --write-path --huge           # 10k, 100k and 1M (1M takes minutes)
    python bench/write_path.py --sizes 100000 --no-tmux # this module on its own

Every measured operation runs in a process of its own, so each peak RSS is that command's own:
the real CLI (`tui-sync sync`, `tui-sync diff --json`) or a small Python step of this file that
calls the core as the console's workers do. The peak RSS is read with `os.wait4` on that child
(`/usr/bin/time` need not exist). Times are medians of 3 where a run is cheap; the machine's
load average is printed beside them, since other work shares its two cores.

Differences are planted straight into the sandbox store's state, as its control panel would
make them (`sandbox.outside`): store quantities of rows that are in sync (no pending orders),
bumping `date_modified`, so an incremental refresh sees them.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
PAIR = "sandbox"
SYNC_N = 3000
INCREMENTAL_N = 100
REPEAT = 3
TMUX_MAX = 100_000  # a full refresh of 1M in the console takes minutes: keys stop at 100k

# (row key, label, unit, target, size the target is stated at)
Target = tuple[str, float, int]
TARGETS: dict[str, Target] = {
    "sync_api_s": ("< 3 s", 3.0, 100_000),
    "sync_cli_s": ("< 3 s", 3.0, 100_000),
    "progress_at_100": ("~0 %", 0.05, 100_000),
    "inc_ratio": ("< 5 %", 0.05, 100_000),
    "inc_reconcile_ms": ("< 100 ms", 100.0, 100_000),
    "rebuild_s": ("< 1.5 s", 1.5, 100_000),
    "diff_json_s": ("< 10 s", 10.0, 1_000_000),
    "view_max_ms": ("< 100 ms", 100.0, 1_000_000),
    "rss_max_mb": ("< 150 MB", 150.0, 100_000),
    "tmux_ratio": ("< 1.25", 1.25, 100_000),
}


# --- child processes -----------------------------------------------------------------------


def _env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["TUI_SYNC_HOME"] = str(data_dir)
    env["TUI_SYNC_CONFIG"] = str(data_dir / "no-config.toml")  # the built-in sandbox pair only
    return env


# Runs one command and reports on it. A launcher of its own, because on Linux a child's peak RSS
# (ru_maxrss) starts from that of the process it was forked from: measured from this bench's
# process, every command would seem at least as big as the bench itself (400 MB at 1M).
_LAUNCHER = """
import json, os, subprocess, sys, time
argv, out, err = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(out, "wb") as o, open(err, "wb") as e:
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=o, stderr=e)
    _, status, use = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
print(json.dumps([wall, use.ru_maxrss / 1024, code, use.ru_utime + use.ru_stime]))
"""


def run_child(
    argv: Sequence[str], data_dir: Path, stdout: Path | None = None
) -> tuple[float, float, int, str, float]:
    """Run a process to its end: (wall seconds, its own peak RSS in MB, exit code, stderr,
    CPU seconds it used, user + system: less sensitive than wall time to a busy machine)."""
    err = data_dir / "child.err"
    said = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, json.dumps(list(argv)), str(stdout or os.devnull), err],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        check=True,
    )
    wall, rss, code, cpu = json.loads(said.stdout)
    return float(wall), float(rss), int(code), err.read_text(errors="replace"), float(cpu)


def step(name: str, data_dir: Path, *args: str) -> dict[str, Any]:
    """One of this file's steps in a fresh Python: its JSON result, wall time and peak RSS."""
    out = data_dir / f"step-{name}.json"
    wall, rss, code, err, _ = run_child(
        [sys.executable, str(HERE), "--step", name, "--dir", str(data_dir), *args],
        data_dir,
        out,
    )
    if code != 0:
        raise RuntimeError(f"step {name} failed ({code}):\n{err}")
    result: dict[str, Any] = json.loads(out.read_text().strip().splitlines()[-1])
    result["wall_s"] = wall
    result["rss_mb"] = rss
    return result


def _tui_sync() -> str:
    return str(Path(sys.executable).parent / "tui-sync")


# --- steps (run inside the child) ----------------------------------------------------------


def _step_generate(data_dir: Path, size: int) -> dict[str, Any]:
    from tui_sync.sandbox import state

    start = time.perf_counter()
    state.generate(data_dir, size)
    return {"s": time.perf_counter() - start}


def _cpu() -> float:
    """CPU seconds of this process, every thread (the cache's own thread included)."""
    return time.process_time()


def _step_refresh(data_dir: Path, full: bool) -> dict[str, Any]:
    """A refresh as the CLI runs it, with its phases: reading, and the swap + reconcile (from the
    "Reconciling" progress to the return); `core` is the reconcile or rescore function alone."""
    import tui_sync.refresh as refresh_module
    from tui_sync.config import SANDBOX_PAIR

    core = [0.0]

    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        def inner(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                core[0] += time.perf_counter() - start

        return inner

    refresh_module.reconcile = timed(refresh_module.reconcile)  # type: ignore[assignment]
    refresh_module.rescore_items = timed(refresh_module.rescore_items)  # type: ignore[assignment]
    marks: dict[str, float] = {}

    def progress(phase: str, done: int, total: int | None) -> None:
        marks.setdefault(phase, time.perf_counter())

    start, cpu = time.perf_counter(), _cpu()
    summary = refresh_module.refresh(data_dir, SANDBOX_PAIR, progress, full=full)
    end, cpu = time.perf_counter(), _cpu() - cpu
    reconciling = marks.get("Reconciling", end)
    return {
        "s": end - start,
        "cpu_s": cpu,
        "read_s": reconciling - start,
        "swap_s": end - reconciling,
        "core_s": core[0],
        "full": summary.full,
        "read": summary.read,
        "rescored_only": summary.rescored_only,
        "rows": summary.rows,
    }


def _step_reconcile(data_dir: Path) -> dict[str, Any]:
    """A full rebuild of the rows from the cached items (what a full refresh ends with)."""
    from tui_sync.cache import Cache
    from tui_sync.config import SANDBOX_PAIR
    from tui_sync.reconcile import reconcile
    from tui_sync.sync import policy_for

    with Cache.open(data_dir) as cache:
        start, cpu = time.perf_counter(), _cpu()
        with cache.transaction():
            rows = reconcile(cache, PAIR, policy_for(SANDBOX_PAIR))
        return {"s": time.perf_counter() - start, "cpu_s": _cpu() - cpu, "rows": rows}


def _step_sync(data_dir: Path, skus_file: Path) -> dict[str, Any]:
    """Plan + apply of the planted SKUs through `sync.apply`, as the console's worker calls it,
    recording every progress callback."""
    from tui_sync.cache import Cache
    from tui_sync.config import SANDBOX_PAIR as pair
    from tui_sync.connectors import capabilities
    from tui_sync.sync import apply, plan
    from tui_sync.views import iter_rows

    skus = skus_file.read_text().split(",")
    start, cpu = time.perf_counter(), _cpu()
    with Cache.open(data_dir) as cache:
        rows = list(iter_rows(cache, pair.name, skus=skus))
    the_plan = plan(
        pair,
        rows,
        "store",
        ("quantity",),
        capabilities(pair.store, "store"),
        capabilities(pair.backoffice, "backoffice"),
    )
    planned = time.perf_counter()
    ticks: list[tuple[float, int, int]] = []

    def progress(done: int, total: int) -> None:
        ticks.append((time.perf_counter() - planned, done, total))

    applied = apply(data_dir, pair, the_plan, progress)
    end, cpu = time.perf_counter(), _cpu() - cpu
    return {
        "plan_s": planned - start,
        "apply_s": end - planned,
        "s": end - start,
        "cpu_s": cpu,
        "changes": len(the_plan.changes),
        "refused": len(the_plan.refusals),
        "done": applied.run.count("done"),
        "ticks": ticks,
    }


def _step_views(data_dir: Path) -> dict[str, Any]:
    """Building each view's ViewRows over the cache (what a view switch does on the UI thread),
    median of 3, and the counts of every view (a worker's job since issue 8)."""
    from tui_sync.cache import Cache
    from tui_sync.views import VIEWS, ViewRows, view_counts

    out: dict[str, Any] = {"views": {}}
    with Cache.open(data_dir) as cache:
        for view in VIEWS:
            samples = []
            for _ in range(REPEAT):
                start = time.perf_counter()
                rows = ViewRows(cache, PAIR, view)
                samples.append((time.perf_counter() - start) * 1000)
            out["views"][view.key] = {"ms": statistics.median(samples), "rows": len(rows)}
        start = time.perf_counter()
        view_counts(cache, PAIR)
        out["counts_ms"] = (time.perf_counter() - start) * 1000
    return out


def _run_step(name: str, data_dir: Path, arg: str | None) -> None:
    if name == "generate":
        result = _step_generate(data_dir, int(arg or 0))
    elif name == "refresh":
        result = _step_refresh(data_dir, full=arg == "full")
    elif name == "reconcile":
        result = _step_reconcile(data_dir)
    elif name == "sync":
        result = _step_sync(data_dir, Path(arg or ""))
    elif name == "views":
        result = _step_views(data_dir)
    else:
        raise SystemExit(f"unknown step {name}")
    print(json.dumps(result))


# --- planting differences (in the bench process, plain SQLite) -------------------------------


def in_sync_rows(data_dir: Path) -> list[tuple[str, str]]:
    """(SKU, store item id) of every row in sync with no pending orders, in grid order."""
    conn = sqlite3.connect(data_dir / "cache.db")
    try:
        return [
            (str(sku), str(item_id))
            for sku, item_id in conn.execute(
                "SELECT r.sku, s.id FROM rows AS r JOIN items AS s ON s.rowid = r.store_rid "
                "WHERE r.pair = ? AND r.status = 'in_sync' AND r.pending = 0 ORDER BY r.pos",
                (PAIR,),
            )
        ]
    finally:
        conn.close()


def spread(rows: Sequence[tuple[str, str]], n: int, offset: int = 0) -> list[tuple[str, str]]:
    """n rows spread evenly over the catalog (not one contiguous block)."""
    if len(rows) < n:
        raise RuntimeError(f"only {len(rows)} in-sync rows, {n} wanted")
    stride = len(rows) // n
    return [rows[(i * stride + offset) % len(rows)] for i in range(n)]


def plant(data_dir: Path, picks: Sequence[tuple[str, str]]) -> None:
    """Bump the store quantity of each pick by one, as the control panel would (date_modified)."""
    from tui_sync.sandbox import outside

    held = outside.values(data_dir)
    outside.set_values(
        data_dir,
        "store",
        "quantity",
        {item_id: int(held[("store", item_id)][0] or 0) + 1 for _, item_id in picks},
    )


def force_full_next(data_dir: Path) -> None:
    """Forget the watermarks, so the next refresh (the console's `r`) reads everything."""
    conn = sqlite3.connect(data_dir / "cache.db", timeout=30)
    try:
        with conn:
            conn.execute(
                "UPDATE refreshes SET store_mark = NULL, backoffice_mark = NULL WHERE pair = ?",
                (PAIR,),
            )
    finally:
        conn.close()


# --- cursor-down in a real terminal ----------------------------------------------------------


class Tmux:
    """A detached tmux session driven through one control-mode client (no process per poll:
    a capture costs about 0.1 ms), with the client's own output notifications turned off.

    On a server of its own (`-L`): a session made on an already running server gets that
    server's environment, not ours, and the console would open another data dir."""

    def __init__(self, name: str, command: Sequence[str], env: dict[str, str]) -> None:
        self.name = name
        self.tmux = ["tmux", "-L", name]
        subprocess.run(
            [*self.tmux, "new-session", "-d", "-s", name, "-x", "120", "-y", "40", *command],
            check=True,
            env=env,
        )
        self.ctl = subprocess.Popen(
            [*self.tmux, "-C", "attach-session", "-t", name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.cmd("refresh-client -f no-output")

    def cmd(self, command: str) -> list[str]:
        assert self.ctl.stdin is not None and self.ctl.stdout is not None
        self.ctl.stdin.write(command.encode() + b"\n")
        self.ctl.stdin.flush()
        lines: list[str] = []
        inside = False
        while True:
            raw = self.ctl.stdout.readline()
            if not raw:
                raise RuntimeError("tmux control client ended")
            line = raw.decode(errors="replace").rstrip("\n")
            if line.startswith("%begin"):
                inside, lines = True, []
            elif inside and (line.startswith("%end") or line.startswith("%error")):
                return lines
            elif inside:
                lines.append(line)

    def screen(self) -> list[str]:
        return self.cmd(f"capture-pane -p -t {self.name}")

    def keys(self, *keys: str) -> None:
        self.cmd(f"send-keys -t {self.name} {' '.join(keys)}")

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.cmd(f"kill-session -t {self.name}")
        if self.ctl.stdin:
            self.ctl.stdin.close()
        self.ctl.wait(timeout=10)


def _cursor(screen: Sequence[str]) -> tuple[int, str] | None:
    """The grid's cursor row (its line and text): the one line that starts with the bar."""
    for y, line in enumerate(screen):
        if line.startswith("▌"):
            return y, line
    return None


def _status(screen: Sequence[str]) -> str:
    return screen[-2].strip() if len(screen) >= 2 else ""


_BUSY = ("Refresh", "Reading", "Reconciling")


def _state(screen: Sequence[str]) -> str | None:
    """`busy` while a refresh runs, `rest` after it, None for a frame caught half-drawn."""
    status = _status(screen)
    if status.startswith("Refreshed"):
        return "rest"
    if status.startswith(_BUSY):
        return "busy"
    return None


def _refreshing(screen: Sequence[str]) -> bool:
    return _state(screen) == "busy"


def _wait(tmux: Tmux, ready: Callable[[list[str]], bool], timeout: float) -> list[str]:
    deadline = time.perf_counter() + timeout
    while True:
        screen = tmux.screen()
        if ready(screen) or time.perf_counter() > deadline:
            return screen
        time.sleep(0.002)


def _whole(screen: Sequence[str]) -> bool:
    return _cursor(screen) is not None and _state(screen) is not None


def _press_down(tmux: Tmux, timeout: float = 3.0) -> tuple[float | None, str | None, str | None]:
    """Send Down once the screen is whole; poll until the cursor row has moved (a whole new
    cursor line, not a frame caught half-drawn): (ms or None, state before, state after)."""
    before = _wait(tmux, _whole, timeout)
    cursor = _cursor(before)
    start = time.perf_counter()
    tmux.keys("Down")
    while True:
        screen = tmux.screen()
        now = time.perf_counter()
        moved = _cursor(screen)
        if moved is not None and moved != cursor:
            return (now - start) * 1000, _state(before), _state(screen)
        if now - start > timeout:
            return None, _state(before), _state(screen)
        time.sleep(0.0005)


def tmux_keys(data_dir: Path, rows: int, samples: int = 60, refreshes: int = 6) -> dict[str, Any]:
    """Cursor-down in `tui-sync demo` in a 120x40 tmux pane: at rest, during full refreshes
    started with `r` (the watermarks forgotten first, so each reads both sides in full), and
    during full refreshes run by `tui-sync refresh` in another process."""
    if shutil.which("tmux") is None:
        return {"skipped": "tmux is not installed (apt-get install -y tmux)"}
    rng = random.Random(8)
    env = _env(data_dir)
    command = [
        "env",
        f"TUI_SYNC_HOME={env['TUI_SYNC_HOME']}",
        f"TUI_SYNC_CONFIG={env['TUI_SYNC_CONFIG']}",
        _tui_sync(),
        "demo",
    ]
    tmux = Tmux(f"tui-sync-bench-{os.getpid()}", command, env)
    try:
        # The console refreshes on start (incremental here): at rest means after it ended.
        screen = _wait(tmux, lambda s: _status(s).startswith("Refreshed"), 600)
        if not _status(screen).startswith("Refreshed"):
            raise RuntimeError(
                "the console did not finish its start-up refresh:\n" + _status(screen)
            )
        if f"All {rows:,}" not in "".join(screen[:3]):  # this bench's catalog, not another
            raise RuntimeError(f"the console shows another catalog:\n{screen[1]}")
        time.sleep(0.5)
        rest: list[float] = []
        lost = 0
        while len(rest) < samples:
            ms, was, still = _press_down(tmux)
            if ms is None:
                lost += 1
            elif was == "rest" and still == "rest":
                rest.append(ms)
            time.sleep(rng.uniform(0.02, 0.06))
        during: list[float] = []
        refresh_s: list[float] = []
        ends: list[str] = []  # what the status said after each refresh
        for _ in range(refreshes):
            force_full_next(data_dir)
            tmux.keys("r")
            started = time.perf_counter()
            _wait(tmux, _refreshing, 10)  # `r` seen: the status says what it reads
            while True:
                ms, was, still = _press_down(tmux)
                if ms is None:
                    lost += 1
                elif was == "busy" and still == "busy":
                    during.append(ms)
                if still == "rest" or len(during) >= samples:
                    break
                time.sleep(rng.uniform(0.02, 0.06))
            screen = _wait(tmux, lambda s: not _refreshing(s), 600)
            refresh_s.append(time.perf_counter() - started)
            ends.append(_status(screen)[:80])
            time.sleep(0.3)
            if len(during) >= samples:
                break
        # The same, while `tui-sync refresh` runs in another process: what the console would
        # cost if its refresh ran in a child (only the CPU is shared then, not the GIL).
        beside: list[float] = []
        beside_s: list[float] = []
        for _ in range(refreshes):
            force_full_next(data_dir)
            started = time.perf_counter()
            child = subprocess.Popen(
                [_tui_sync(), "refresh"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=_env(data_dir),
            )
            time.sleep(0.3)  # past its start-up, into the reads
            while child.poll() is None and len(beside) < samples:
                ms, _, _ = _press_down(tmux)
                if ms is None:
                    lost += 1
                elif child.poll() is None:
                    beside.append(ms)
                time.sleep(rng.uniform(0.02, 0.06))
            child.wait()
            beside_s.append(time.perf_counter() - started)
            if len(beside) >= samples:
                break
        return {
            "rest": _stats(rest),
            "during": _stats(during),
            "beside": _stats(beside),
            "refreshes": len(refresh_s),
            "refresh_s": statistics.median(refresh_s) if refresh_s else None,
            "ends": ends,
            "beside_s": statistics.median(beside_s) if beside_s else None,
            "lost": lost,
        }
    finally:
        tmux.close()


def _stats(samples: Sequence[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0, "median": float("nan"), "p95": float("nan")}
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"n": len(ordered), "median": statistics.median(ordered), "p95": p95}


# --- one size ------------------------------------------------------------------------------


def _median(results: Sequence[dict[str, Any]], key: str) -> float:
    return statistics.median(float(r[key]) for r in results)


def _progress_figures(ticks: Sequence[Sequence[float]], apply_s: float) -> dict[str, float]:
    """How progress moved: updates, the first, the largest gap, the share of the run at 100 %."""
    if not ticks:
        return {"updates": 0, "first_s": apply_s, "gap_s": apply_s, "at_100": 1.0}
    times = [float(t[0]) for t in ticks]
    full = next((float(t[0]) for t in ticks if t[1] >= t[2]), apply_s)
    gaps = [b - a for a, b in itertools.pairwise(times)] or [0.0]
    return {
        "updates": len(ticks),
        "first_s": times[0],
        "gap_s": max(gaps),
        "at_100": (apply_s - full) / apply_s if apply_s else 0.0,
    }


def run_size(size: int, tmux: bool, log: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {"size": size, "load_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="tui-sync-bench-") as tmp:
        data_dir = Path(tmp)
        rss: dict[str, float] = {}
        log(f"{size:,}: generating")
        out["generate_s"] = step("generate", data_dir, "--arg", str(size))["s"]
        log(f"{size:,}: first refresh")
        first = step("refresh", data_dir, "--arg", "full")
        out["rows"] = first["rows"]

        log(f"{size:,}: full refreshes")
        heavy = 1 if size >= 1_000_000 else REPEAT  # a 1M full refresh takes minutes
        fulls = [step("refresh", data_dir, "--arg", "full") for _ in range(heavy)]
        assert all(r["full"] for r in fulls)
        out["full_s"] = _median(fulls, "s")
        out["full_cpu_s"] = _median(fulls, "cpu_s")
        out["full_swap_s"] = _median(fulls, "swap_s")
        out["full_core_s"] = _median(fulls, "core_s")
        rss["refresh (full)"] = max(r["rss_mb"] for r in fulls)
        rebuilds = [step("reconcile", data_dir) for _ in range(heavy)]
        out["rebuild_s"] = _median(rebuilds, "s")
        out["rebuild_cpu_s"] = _median(rebuilds, "cpu_s")

        log(f"{size:,}: incremental refreshes of {INCREMENTAL_N}")
        candidates = in_sync_rows(data_dir)
        incs = []
        for i in range(REPEAT):
            plant(data_dir, spread(candidates, INCREMENTAL_N, offset=i + 1))
            incs.append(step("refresh", data_dir))
            if incs[-1]["full"] or incs[-1]["read"] != INCREMENTAL_N:
                raise RuntimeError(f"not an incremental refresh of {INCREMENTAL_N}: {incs[-1]}")
        out["inc_s"] = _median(incs, "s")
        out["inc_cpu_s"] = _median(incs, "cpu_s")
        out["inc_swap_s"] = _median(incs, "swap_s")
        out["inc_core_s"] = _median(incs, "core_s")
        out["inc_rescored_only"] = all(r["rescored_only"] for r in incs)
        out["inc_ratio"] = out["inc_s"] / out["full_s"]
        out["inc_reconcile_ms"] = out["inc_swap_s"] * 1000
        rss["refresh (incremental)"] = max(r["rss_mb"] for r in incs)

        log(f"{size:,}: sync of {SYNC_N} quantities through sync.apply")
        skus_file = data_dir / "skus.txt"
        syncs = []
        for _ in range(REPEAT):
            picks = spread(in_sync_rows(data_dir), SYNC_N)
            skus_file.write_text(",".join(sku for sku, _ in picks))
            plant(data_dir, picks)
            step("refresh", data_dir)
            result = step("sync", data_dir, "--arg", str(skus_file))
            if result["done"] != SYNC_N:
                raise RuntimeError(f"sync did {result['done']} of {SYNC_N}: {result}")
            result.update(_progress_figures(result["ticks"], result["apply_s"]))
            syncs.append(result)
        out["sync_api_s"] = _median(syncs, "s")
        out["sync_api_cpu_s"] = _median(syncs, "cpu_s")
        out["sync_plan_s"] = _median(syncs, "plan_s")
        out["sync_apply_s"] = _median(syncs, "apply_s")
        out["progress_updates"] = _median(syncs, "updates")
        out["progress_first_s"] = _median(syncs, "first_s")
        out["progress_gap_s"] = _median(syncs, "gap_s")
        out["progress_at_100"] = _median(syncs, "at_100")
        rss["sync (sync.apply)"] = max(r["rss_mb"] for r in syncs)

        log(f"{size:,}: sync of {SYNC_N} quantities through the CLI")
        clis = []
        for _ in range(REPEAT):
            picks = spread(in_sync_rows(data_dir), SYNC_N)
            plant(data_dir, picks)
            step("refresh", data_dir)
            report = data_dir / "sync.out"
            wall, peak, code, err, cpu = run_child(
                [
                    _tui_sync(),
                    "sync",
                    "--to",
                    "store",
                    "--fields",
                    "quantity",
                    "--sku",
                    ",".join(sku for sku, _ in picks),
                ],
                data_dir,
                report,
            )
            said = report.read_text().splitlines()
            if code != 0 or not any(line.startswith(f"{SYNC_N} done") for line in said):
                raise RuntimeError(f"CLI sync failed ({code}): {said[-3:]} {err}")
            clis.append({"s": wall, "cpu_s": cpu, "rss_mb": peak})
        out["sync_cli_s"] = _median(clis, "s")
        out["sync_cli_cpu_s"] = _median(clis, "cpu_s")
        rss["tui-sync sync"] = max(r["rss_mb"] for r in clis)

        log(f"{size:,}: diff --json")
        diffs = []
        for _ in range(REPEAT):
            wall, peak, code, err, cpu = run_child([_tui_sync(), "diff", "--json"], data_dir)
            if code != 0:
                raise RuntimeError(f"diff --json failed ({code}): {err}")
            diffs.append({"s": wall, "cpu_s": cpu, "rss_mb": peak})
        out["diff_json_s"] = _median(diffs, "s")
        out["diff_json_cpu_s"] = _median(diffs, "cpu_s")
        rss["tui-sync diff --json"] = max(r["rss_mb"] for r in diffs)

        log(f"{size:,}: view switches")
        views = step("views", data_dir)
        out["views"] = views["views"]
        out["view_max_ms"] = max(v["ms"] for v in views["views"].values())
        out["counts_ms"] = views["counts_ms"]
        rss["views (ViewRows)"] = views["rss_mb"]

        if tmux and size <= TMUX_MAX:
            log(f"{size:,}: cursor-down in tmux")
            out["tmux"] = tmux_keys(data_dir, out["rows"])
            keys = out["tmux"]
            if "skipped" not in keys:
                out["tmux_ratio"] = keys["during"]["median"] / keys["rest"]["median"]
                out["tmux_beside_ratio"] = keys["beside"]["median"] / keys["rest"]["median"]
        out["rss"] = rss
        out["rss_max_mb"] = max(rss.values())
    out["load_end"] = os.getloadavg()[0]
    return out


# --- the table -----------------------------------------------------------------------------


def _verdict(key: str, results: Sequence[dict[str, Any]]) -> str:
    target = TARGETS.get(key)
    if target is None:
        return ""
    text, limit, at = target
    chosen = [r for r in results if r["size"] == at and key in r]
    if not chosen:
        return f"{text} at {at:,}"
    value = float(chosen[0][key])
    return f"{text} at {at:,}: " + ("met" if value < limit else f"MISSED ({value / limit:.2f}x)")


def table(results: Sequence[dict[str, Any]]) -> str:
    def s(v: float) -> str:
        return f"{v:.2f} s"

    def sc(r: dict[str, Any], key: str) -> str:
        """Wall seconds, then the CPU seconds the command used (in brackets)."""
        return f"{r[key]:.2f} s ({r[key.replace('_s', '_cpu_s')]:.2f})"

    def ms(v: float) -> str:
        return f"{v:.0f} ms" if v >= 10 else f"{v:.1f} ms"

    def pct(v: float) -> str:
        return f"{v * 100:.1f} %"

    def keys(which: str) -> Callable[[dict[str, Any]], str]:
        def cell(r: dict[str, Any]) -> str:
            t = r.get("tmux")
            if not t:
                return "-"
            if "skipped" in t:
                return "skipped"
            part = t[which]
            return f"{part['median']:.1f}/{part['p95']:.1f} (n={part['n']})"

        return cell

    rows: list[tuple[str, str, Callable[[dict[str, Any]], str]]] = [
        ("catalog: rows", "", lambda r: f"{r['rows']:,}"),
        ("generate", "", lambda r: s(r["generate_s"])),
        ("sync 3,000 qty: plan + sync.apply", "sync_api_s", lambda r: sc(r, "sync_api_s")),
        ("  of which plan (rows + plan)", "", lambda r: s(r["sync_plan_s"])),
        ("  of which apply", "", lambda r: s(r["sync_apply_s"])),
        ("sync 3,000 qty: CLI end to end", "sync_cli_s", lambda r: sc(r, "sync_cli_s")),
        ("  progress updates (callbacks)", "", lambda r: f"{r['progress_updates']:.0f}"),
        ("  first progress after", "", lambda r: s(r["progress_first_s"])),
        ("  largest gap between updates", "", lambda r: s(r["progress_gap_s"])),
        ("  share of the run at 100 %", "progress_at_100", lambda r: pct(r["progress_at_100"])),
        ("full refresh", "", lambda r: sc(r, "full_s")),
        ("  of which swap + reconcile", "", lambda r: s(r["full_swap_s"])),
        ("full rebuild (reconcile alone)", "rebuild_s", lambda r: sc(r, "rebuild_s")),
        ("incremental refresh, 100 changed", "", lambda r: sc(r, "inc_s")),
        ("  incremental / full", "inc_ratio", lambda r: pct(r["inc_ratio"])),
        ("  its swap + rescore", "inc_reconcile_ms", lambda r: ms(r["inc_swap_s"] * 1000)),
        ("  of which rescore alone", "", lambda r: ms(r["inc_core_s"] * 1000)),
        (
            "  rescored only (no re-pairing)",
            "",
            lambda r: "yes" if r["inc_rescored_only"] else "NO",
        ),
        ("diff --json > /dev/null (CLI)", "diff_json_s", lambda r: sc(r, "diff_json_s")),
        ("view switch: slowest ViewRows", "view_max_ms", lambda r: ms(r["view_max_ms"])),
        *(
            (f"  view {key}", "", (lambda r, key=key: ms(r["views"][key]["ms"])))
            for key in ("all", "out_of_sync", "price", "quantity", "in_orders", "base", "unmatched")
        ),
        ("  view_counts (in a worker)", "", lambda r: ms(r["counts_ms"])),
        ("tmux cursor-down at rest ms", "", keys("rest")),
        ("tmux cursor-down in refresh ms", "", keys("during")),
        (
            "  during / at rest (medians)",
            "tmux_ratio",
            lambda r: f"{r['tmux_ratio']:.2f}" if "tmux_ratio" in r else "-",
        ),
        ("tmux down, refresh in other proc", "", keys("beside")),
        (
            "  other process / at rest",
            "",
            lambda r: f"{r['tmux_beside_ratio']:.2f}" if "tmux_beside_ratio" in r else "-",
        ),
        (
            "  full refresh in the console",
            "",
            lambda r: s(r["tmux"]["refresh_s"]) if r.get("tmux", {}).get("refresh_s") else "-",
        ),
    ]
    rss_names = list(dict.fromkeys(name for r in results for name in r["rss"]))
    rows.extend(
        (f"peak RSS: {name}", "", (lambda r, name=name: f"{r['rss'].get(name, 0):.0f} MB"))
        for name in rss_names
    )
    rows.append(("peak RSS: largest", "rss_max_mb", lambda r: f"{r['rss_max_mb']:.0f} MB"))
    rows.append(
        ("load average (start/end)", "", lambda r: f"{r['load_start']:.2f}/{r['load_end']:.2f}")
    )
    width = 19
    head = f"{'SKUs/side':<35}" + "".join(f"{r['size']:>{width},}" for r in results)
    lines = [head + "   target", "-" * (len(head) + 40)]
    for label, key, cell in rows:
        values = []
        for r in results:
            try:
                values.append(cell(r))
            except (KeyError, TypeError):
                values.append("-")
        lines.append(
            f"{label:<35}"
            + "".join(f"{v:>{width}}" for v in values)
            + "   "
            + _verdict(key, results)
        )
    return "\n".join(line.rstrip() for line in lines)


def main(argv: Sequence[str] | None = None) -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--huge", action="store_true", help="add 1,000,000 SKUs per side")
    parser.add_argument("--no-tmux", action="store_true", help="skip the tmux key latencies")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--arg", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        _run_step(args.step, args.dir, args.arg)
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.huge and 1_000_000 not in sizes:
        sizes.append(1_000_000)

    def log(text: str) -> None:
        print(f"[{datetime.now():%H:%M:%S} load {os.getloadavg()[0]:.2f}] {text}", file=sys.stderr)

    started = datetime.now()
    load = os.getloadavg()
    results = [run_size(size, not args.no_tmux, log) for size in sizes]
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(
        f"write path (issue 8), {started:%Y-%m-%d %H:%M}, {os.cpu_count()} cores, "
        f"load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(table(results), flush=True)
    print(
        "times: medians of 3 runs (1 for a full refresh or rebuild at 1M), each in a fresh "
        "process\n  (CLI rows: the real `tui-sync`, interpreter start included),"
        " in brackets the CPU seconds the process used (user + system, every thread);\n"
        "sync: 3,000 planted store quantity differences, "
        "`tui-sync sync --to store --fields quantity --sku ...`;\n"
        "tmux: median/p95 ms from send-keys to the cursor row changing on screen, in "
        "`tui-sync demo` at 120x40,\n"
        "  during full refreshes started with `r` (up to 100k only); "
        "peak RSS: os.wait4 of each command"
    )


if __name__ == "__main__":
    main()
