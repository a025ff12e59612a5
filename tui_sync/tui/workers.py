"""The console's background work: refresh and sync run in a child process (tui_sync.child),
the same core functions the CLI calls, so their Python work never takes the UI's time.

A worker here only reads the child's JSON lines and posts messages (messages.py); the app's
handlers update the screen. Stopping a worker (Esc, quit) sends the child SIGTERM: a refresh ends
at once, a sync after the batch in flight, with its journal settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
from pathlib import Path

from textual.message_pump import MessagePump

from tui_sync import journal, plan_io
from tui_sync.cache import Cache
from tui_sync.config import PairConfig
from tui_sync.model import SIDES, Plan, Side
from tui_sync.refresh import RefreshSummary
from tui_sync.selection import compare_snapshot, take_snapshot
from tui_sync.tui.messages import (
    AutoTickDone,
    CountsReady,
    Progress,
    RefreshDone,
    SyncDone,
    WorkFailed,
)
from tui_sync.views import keys_at, positions_of, view_counts

# How long a stopped child may take to end before it is killed (a sync finishing its batch).
STOP_GRACE_S = 5.0


def one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _counts(data_dir: Path, pair: str) -> dict[str, int]:
    with Cache.open(data_dir) as cache:
        return view_counts(cache, pair)


class ChildFailed(Exception):
    """The child process reported an error (one line) or ended without a result; `side` and
    `state` when it said which side's connection failed."""

    def __init__(self, message: str, side: Side | None = None, state: str | None = None) -> None:
        super().__init__(message)
        self.side, self.state = side, state


def _failed(what: str, exc: Exception) -> WorkFailed:
    if isinstance(exc, ChildFailed):
        return WorkFailed(what, one_line(exc), exc.side, exc.state)
    return WorkFailed(what, one_line(exc))


class Running:
    """The child process of the work in progress, so that the console can stop it: SIGTERM
    ends a refresh at once and a sync after the batch in flight, its journal settled."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self.stopping = False

    def stop(self) -> bool:
        if self.process is None or self.process.returncode is not None:
            return False
        self.stopping = True
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        return True


async def _run_child(
    target: MessagePump,
    data_dir: Path,
    config: Path | None,
    pair: str,
    *work: str,
    running: Running | None = None,
) -> dict[str, object]:
    command = [sys.executable, "-m", "tui_sync.child", "--data-dir", str(data_dir)]
    if config is not None:
        command += ["--config", str(config)]
    command += ["--pair", pair, *work]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        # Its own session: a Ctrl+C meant for the console does not reach it half-way.
        start_new_session=True,
    )
    if running is not None:
        running.process, running.stopping = process, False
    result: dict[str, object] | None = None
    error: str | None = None
    side: Side | None = None
    state: str | None = None
    try:
        assert process.stdout is not None
        async for raw in process.stdout:
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            if "progress" in record:
                label, done, total = record["progress"]
                target.post_message(Progress(str(label), int(done), total))
            elif "done" in record and isinstance(record["done"], dict):
                result = record["done"]
            elif "error" in record:
                error = str(record["error"])
                if record.get("side") in SIDES and isinstance(record.get("state"), str):
                    side = "store" if record["side"] == "store" else "backoffice"
                    state = str(record["state"])
        await process.wait()
    except asyncio.CancelledError:
        await _stop(process)
        raise
    if result is not None:
        return result  # a sync stopped between batches still reports its run
    if running is not None and running.stopping:
        raise ChildFailed("stopped")
    if error is not None:
        raise ChildFailed(error, side, state)
    raise ChildFailed(f"the worker process ended without a result (exit {process.returncode})")


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    try:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), STOP_GRACE_S)
    except (ProcessLookupError, TimeoutError):
        if process.returncode is None:
            process.kill()


async def run_refresh(
    target: MessagePump,
    data_dir: Path,
    config: Path | None,
    pair: PairConfig,
    selected: list[int] | None = None,
    running: Running | None = None,
) -> None:
    """Refresh; the selection (positions) is carried across by row identity (a refresh that
    re-pairs renumbers rows), and what changed among the selected rows is reported."""
    snapshot: Path | None = None
    try:
        if selected:
            snapshot = await asyncio.to_thread(take_snapshot, data_dir, pair.name, selected)
        done = await _run_child(target, data_dir, config, pair.name, "refresh", running=running)
        summary = RefreshSummary(
            int(str(done["store_items"])),
            int(str(done["backoffice_items"])),
            int(str(done["pending_lines"])),
            int(str(done["rows"])),
            bool(done.get("full", True)),
            rescored_only=bool(done.get("rescored_only", False)),
        )
        news = None
        if snapshot is not None:
            news = await asyncio.to_thread(compare_snapshot, data_dir, pair.name, snapshot)
            snapshot = None  # compare_snapshot removed it
        counts = await asyncio.to_thread(_counts, data_dir, pair.name)
        target.post_message(RefreshDone(summary, counts, news))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # every failure reaches the user as one line, nothing is lost
        target.post_message(_failed("Refresh", exc))
    finally:
        if snapshot is not None:
            snapshot.unlink(missing_ok=True)


async def run_sync(
    target: MessagePump,
    data_dir: Path,
    config: Path | None,
    pair: PairConfig,
    plan: Plan,
    kind: str,
    undoes: str | None = None,
    running: Running | None = None,
) -> None:
    fd, name = tempfile.mkstemp(prefix="tui-sync-plan-", suffix=".json")
    os.close(fd)
    path = Path(name)
    try:
        plan_io.write(plan, path)
        work = [kind, "--plan", str(path)] + (["--undoes", undoes] if undoes else [])
        done = await _run_child(target, data_dir, config, pair.name, *work, running=running)
        run_id = str(done["run_id"])

        def read() -> tuple[journal.Run, dict[str, int]]:
            with Cache.open(data_dir) as cache:
                (run,) = journal.runs(cache, run_id=run_id)
                return run, view_counts(cache, pair.name)

        run, counts = await asyncio.to_thread(read)
        target.post_message(SyncDone(run, counts))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        target.post_message(_failed("Sync", exc))
    finally:
        path.unlink(missing_ok=True)


async def run_auto_tick(
    target: MessagePump,
    data_dir: Path,
    config: Path | None,
    pair: PairConfig,
    selected: list[int] | None = None,
    running: Running | None = None,
) -> None:
    """One tick of the schedule (`auto --once`, in the child, under the pair lock). A tick that
    fails, is refused or finds the pair busy still ends in AutoTickDone: the schedule goes on."""
    try:
        keys = await asyncio.to_thread(keys_at, data_dir, pair.name, selected) if selected else []
        done = await _run_child(target, data_dir, config, pair.name, "auto", running=running)
        selection: list[int] | None = None
        if keys:
            selection = await asyncio.to_thread(positions_of, data_dir, pair.name, keys)
        counts = await asyncio.to_thread(_counts, data_dir, pair.name)
        guarded = done.get("guarded")
        target.post_message(
            AutoTickDone(
                bool(done.get("ok")),
                str(done.get("summary", "")),
                str(done.get("line", "")),
                [str(g) for g in guarded] if isinstance(guarded, list) else [],
                counts,
                selection,
                len(keys),
                bool(done.get("refreshed")),
            )
        )
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        error = one_line(exc)
        target.post_message(AutoTickDone(False, f"failed: {error}", error, [], None))


def run_counts(target: MessagePump, data_dir: Path, pair: str) -> None:
    try:
        target.post_message(CountsReady(_counts(data_dir, pair)))
    except Exception as exc:
        target.post_message(WorkFailed("Counting rows", one_line(exc)))
