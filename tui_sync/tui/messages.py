"""Messages that workers post to the app; handlers on the app own every change to the UI."""

from __future__ import annotations

from collections.abc import Sequence

from textual.message import Message

from tui_sync.breakdown import Found
from tui_sync.journal import Run
from tui_sync.model import Side
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


class OrderReady(Message):
    """A view's rows in the chosen sort (views.view_order), ordered off the UI thread;
    `cursor`: the index of the row the cursor follows (by key), if it is in the view."""

    def __init__(
        self,
        token: int,
        positions: Sequence[int] | None,
        cursor: int | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__()
        self.token = token
        self.positions = positions
        self.cursor = cursor
        self.error = error


class SkuFound(Message):
    """The answer to `g`: the row found (None: no SKU like it), and its index in the view
    that was on screen (None: not in it)."""

    def __init__(self, text: str, found: Found | None, index: int | None) -> None:
        super().__init__()
        self.text = text
        self.found = found
        self.index = index


class RowsToSelect(Message):
    """Positions of a breakdown line's rows, found off the UI thread, to add to the selection."""

    def __init__(self, positions: Sequence[int], label: str) -> None:
        super().__init__()
        self.positions = positions
        self.label = label


class MappingDone(Message):
    """A map or unmap re-paired its rows: `focus` is the position of the row it made (None:
    gone), `selection` where the selected rows are now."""

    def __init__(
        self, text: str, counts: dict[str, int], focus: int | None, selection: list[int]
    ) -> None:
        super().__init__()
        self.text = text
        self.counts = counts
        self.focus = focus
        self.selection = selection


class IntentChanged(Message):
    """An intended-difference mark was written (or failed: `counts` None); the row is rescored."""

    def __init__(self, text: str, counts: dict[str, int] | None) -> None:
        super().__init__()
        self.text = text
        self.counts = counts


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
