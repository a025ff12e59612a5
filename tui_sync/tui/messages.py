"""Messages that workers post to the app; handlers on the app own every change to the UI."""

from __future__ import annotations

from textual.message import Message

from tui_sync.journal import Run
from tui_sync.model import Side
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
    """A worker failed; `what` is "Refresh" or "Sync", `error` one line, never a secret;
    `side` and `state` when one side's connection failed ("auth failed (401): ...")."""

    def __init__(
        self, what: str, error: str, side: Side | None = None, state: str | None = None
    ) -> None:
        super().__init__()
        self.what = what
        self.error = error
        self.side = side
        self.state = state


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
