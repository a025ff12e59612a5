"""The console's background work: the same core functions the CLI calls, run in threads.

Workers never touch a widget: they post messages (messages.py) and the app's handlers update the
screen. Each opens its own cache connection (refresh/apply do), as SQLite wants per thread.
"""

from __future__ import annotations

from pathlib import Path

from textual.message_pump import MessagePump

from tui_sync.cache import Cache
from tui_sync.config import PairConfig
from tui_sync.model import Plan
from tui_sync.refresh import refresh
from tui_sync.sync import apply
from tui_sync.tui.messages import CountsReady, Progress, RefreshDone, SyncDone, WorkFailed
from tui_sync.views import view_counts


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _counts(data_dir: Path, pair: str) -> dict[str, int]:
    with Cache.open(data_dir) as cache:
        return view_counts(cache, pair)


def run_refresh(target: MessagePump, data_dir: Path, pair: PairConfig) -> None:
    def progress(label: str, done: int, total: int | None) -> None:
        target.post_message(Progress(label, done, total))

    try:
        summary = refresh(data_dir, pair, progress)
        target.post_message(RefreshDone(summary, _counts(data_dir, pair.name)))
    except Exception as exc:  # every failure reaches the user as one line, nothing is lost
        target.post_message(WorkFailed("Refresh", _one_line(exc)))


def run_sync(target: MessagePump, data_dir: Path, pair: PairConfig, plan: Plan, kind: str) -> None:
    def progress(done: int, total: int) -> None:
        target.post_message(Progress("Syncing", done, total))

    try:
        applied = apply(data_dir, pair, plan, progress, kind=kind)
        target.post_message(SyncDone(applied.run, _counts(data_dir, pair.name)))
    except Exception as exc:
        target.post_message(WorkFailed("Sync", _one_line(exc)))


def run_counts(target: MessagePump, data_dir: Path, pair: str) -> None:
    try:
        target.post_message(CountsReady(_counts(data_dir, pair)))
    except Exception as exc:
        target.post_message(WorkFailed("Counting rows", _one_line(exc)))
