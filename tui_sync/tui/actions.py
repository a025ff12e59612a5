"""One registry of the console's actions: it feeds the key bindings, the footer, the help screen
and the command palette, so they can never disagree."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

from tui_sync.tui.selected_rows import SELECTED_VIEW
from tui_sync.views import VIEWS

# Every view has a number key; Selected comes last, after the views of the cache.
ALL_VIEWS = (*VIEWS, SELECTED_VIEW)


@dataclass(frozen=True, slots=True)
class Action:
    id: str
    key: str
    action: str
    title: str  # short, for the footer
    help: str  # for the help screen and the palette
    footer: bool = False


ACTIONS: tuple[Action, ...] = (
    Action("sync", "s", "sync", "Sync", "Sync the selected rows (or the cursor row)", True),
    Action("refresh", "r", "refresh", "Refresh", "Refresh both sides into the cache", True),
    Action(
        "details",
        "d",
        "toggle_details",
        "Details",
        "Display Discrepancy Details (code columns)",
        True,
    ),
    Action("filter", "slash", "filter", "Filter", "Filter the view by SKU or name", True),
    Action(
        "select_all", "a", "select_all", "Sel all", "Select every row of the current view", True
    ),
    Action("select_none", "n", "select_none", "Sel none", "Clear the selection"),
    Action("row", "enter", "row_detail", "Detail", "Both sides of the cursor row, with reasons"),
    Action("log", "l", "run_log", "Log", "The run log: every sync and its changes"),
    Action(
        "auto",
        "A",
        "auto",
        "Auto",
        "Start or stop the automatic sync at the pair's schedule (as `tui-sync auto`), while "
        "the console is open",
    ),
    Action("help", "question_mark", "help", "Help", "Keys, views, codes and statuses", True),
    Action("quit", "q", "quit", "Quit", "Quit tui-sync", True),
    Action(
        "stop",
        "escape",
        "stop",
        "Stop",
        "Stop the running refresh (at once) or sync (after the batch in flight)",
    ),
    *(
        Action(
            f"view_{view.key}",
            str(number),
            f"view('{view.key}')",
            view.short,
            f"View: {view.label}"
            + (" (exactly the selected rows, in every view)" if view is SELECTED_VIEW else ""),
        )
        for number, view in enumerate(ALL_VIEWS, start=1)
    ),
)


# Actions on the grid and its rows: only while no dialog or panel is open over it.
GRID_ACTIONS = frozenset(a.action.split("(")[0] for a in ACTIONS if a.id != "quit")


def bindings() -> list[BindingType]:
    return [
        Binding(a.key, a.action, a.title, show=a.footer, id=a.id, tooltip=a.help) for a in ACTIONS
    ]


def key_label(action: Action) -> str:
    return {"slash": "/", "question_mark": "?", "enter": "Enter", "escape": "Esc"}.get(
        action.key, action.key
    )
