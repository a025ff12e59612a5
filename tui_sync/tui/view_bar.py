"""The views, one key each, with their row counts always visible."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui_sync.views import VIEWS


class ViewBar(Static):
    def show(self, current: str, counts: dict[str, int], filtered: bool) -> None:
        self._state = (current, counts, filtered)
        self.refresh_bar()

    def on_resize(self) -> None:
        self.refresh_bar()

    def refresh_bar(self) -> None:
        state = getattr(self, "_state", None)
        if state is None:
            return
        current, counts, filtered = state
        # Full labels when they fit, short ones on small terminals.
        for use_short in (False, True):
            text = Text()
            for number, view in enumerate(VIEWS, start=1):
                label = view.short if use_short else view.label
                style = "reverse bold" if view.key == current else ""
                text.append(f" {number}", style="bold " + style if style else "bold")
                text.append(f" {label} {counts.get(view.key, 0):,} ", style=style)
            if filtered:
                text.append(" (filtered)", style="italic")
            if text.cell_len <= max(self.size.width, 1) or use_short:
                break
        self.update(text)
