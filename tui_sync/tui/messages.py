"""Messages that workers post to the app; handlers on the app own every change to the UI."""

from __future__ import annotations

from textual.message import Message

from tui_sync.journal import Run
from tui_sync.refresh import RefreshSummary
from tui_sync.selection import SelectionNews


class Progress(Message):
    """A worker's progress: a label and done/total (total None: indeterminate)."""

    def __init__(self, label: str, done: int, total: int | None) -> None:
        super().__init__()
        self.label = label
        self.done = done
        self.total = total


class RefreshDone(Message):
    """A refresh finished. `news`: where the selected rows are now and what changed among
    them (None: nothing was selected)."""

    def __init__(
        self, summary: RefreshSummary, counts: dict[str, int], news: SelectionNews | None = None
    ) -> None:
        super().__init__()
        self.summary = summary
        self.counts = counts
        self.news = news


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
