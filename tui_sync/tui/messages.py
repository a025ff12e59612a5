"""Messages that workers post to the app; handlers on the app own every change to the UI."""

from __future__ import annotations

from textual.message import Message

from tui_sync.journal import Run
from tui_sync.refresh import RefreshSummary


class Progress(Message):
    """A worker's progress: a label and done/total (total None: indeterminate)."""

    def __init__(self, label: str, done: int, total: int | None) -> None:
        super().__init__()
        self.label = label
        self.done = done
        self.total = total


class RefreshDone(Message):
    """A refresh finished. `selection` is where the selected rows are now (None: where they
    were; the refresh did not renumber rows); `selected_before` how many were selected."""

    def __init__(
        self,
        summary: RefreshSummary,
        counts: dict[str, int],
        selection: list[int] | None = None,
        selected_before: int = 0,
    ) -> None:
        super().__init__()
        self.summary = summary
        self.counts = counts
        self.selection = selection
        self.selected_before = selected_before


class SyncDone(Message):
    def __init__(self, run: Run, counts: dict[str, int]) -> None:
        super().__init__()
        self.run = run
        self.counts = counts


class WorkFailed(Message):
    """A worker failed; `what` is "Refresh" or "Sync", `error` one line, never a secret."""

    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what = what
        self.error = error


class CountsReady(Message):
    """Rows per view, counted off the UI thread (a scan of every row on a big catalog)."""

    def __init__(self, counts: dict[str, int]) -> None:
        super().__init__()
        self.counts = counts


class LongestSku(Message):
    """The length of the pair's longest SKU, measured off the UI thread: sizes the SKU column."""

    def __init__(self, cells: int) -> None:
        super().__init__()
        self.cells = cells


class AutoTickDone(Message):
    """A tick of the console's schedule ended: `ok`, its result in a few words (`summary`) and
    in full (`line`), the guards' reasons when one refused the plan (never confirmed here),
    counts after it (None when the tick could not even start), where the selected rows are
    now (as RefreshDone: the tick's refresh may renumber rows), and whether it refreshed."""

    def __init__(
        self,
        ok: bool,
        summary: str,
        line: str,
        guarded: list[str],
        counts: dict[str, int] | None,
        selection: list[int] | None = None,
        selected_before: int = 0,
        refreshed: bool = False,
    ) -> None:
        super().__init__()
        self.refreshed = refreshed
        self.ok = ok
        self.summary = summary
        self.line = line
        self.guarded = guarded
        self.counts = counts
        self.selection = selection
        self.selected_before = selected_before
