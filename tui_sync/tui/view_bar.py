"""The views, one key each, with their row counts always visible."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui_sync.tui.actions import ALL_VIEWS


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
        # Full labels when they fit; on small terminals short labels, then tighter spacing.
        text = Text()
        for tier in range(3):
            text = Text()
            for number, view in enumerate(ALL_VIEWS, start=1):
                label = view.label if tier == 0 else view.short
                count = counts.get(view.key, 0)
                shown = f"{count:,}" if tier < 2 else str(count)
                style = "reverse bold" if view.key == current else ""
                pad = " " if tier < 2 else ""
                text.append(f"{pad}{number}", style=f"bold {style}".strip())
                text.append(f" {label} {shown} ", style=style)
            if filtered:
                text.append(" (filtered)", style="italic")
            if text.cell_len <= self.size.width:
                break
        self.update(text)
