"""The views, one key each, with their row counts always visible.

Counts go compact (`123k`, `1.2M`) before anything is cut, so all views fit 80 columns even on a
million-row catalog.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui_sync.tui.actions import ALL_VIEWS


def compact(count: int) -> str:
    """`987`, `2.5k`, `123k`, `1.2M`: at most four characters."""
    if count < 1000:
        return str(count)
    value, unit = (count / 1000, "k") if count < 999_500 else (count / 1_000_000, "M")
    return f"{value:.1f}{unit}" if value < 9.95 else f"{value:.0f}{unit}"


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
        # Full labels when they fit; then short labels, compact counts, tighter spacing.
        text = Text()
        for tier in range(4):
            text = Text()
            for number, view in enumerate(ALL_VIEWS, start=1):
                label = view.label if tier == 0 else view.short
                count = counts.get(view.key, 0)
                shown = f"{count:,}" if tier < 2 else compact(count)
                style = "reverse bold" if view.key == current else ""
                # The tightest tier drops the spaces around the number: "1All 1.2M 2Out 123k".
                pad = " " if tier < 3 else ""
                text.append(f"{pad}{number}", style=f"bold {style}".strip())
                text.append(f"{pad}{label} {shown} ", style=style)
            if filtered:
                text.append(" (filtered)", style="italic")
            if text.cell_len <= self.size.width:
                break
        self.update(text)
