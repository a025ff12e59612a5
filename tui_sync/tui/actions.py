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
    Action(
        "select_like",
        "comma",
        "select_like",
        "Sel like",
        "Select the rows of the view like the cursor row (same status, same N codes)",
    ),
    Action("invert", "i", "invert_selection", "Invert", "Invert the selection within the view"),
    Action(
        "range",
        "v",
        "select_range",
        "Range",
        "Anchor a range at the cursor row; move, then v or space selects it (Esc drops it)",
    ),
    Action("copy_row", "y", "copy_row", "Copy row", "Copy the cursor row (CSV) to the clipboard"),
    Action(
        "copy_selection",
        "Y",
        "copy_selection",
        "Copy sel",
        "Copy the selected rows (CSV) to the clipboard; a big selection goes to a file",
    ),
    Action(
        "export",
        "x",
        "export",
        "Export",
        "Export the view or the selection to CSV or JSON (as diff --csv / --json)",
    ),
    Action("row", "enter", "row_detail", "Detail", "Both sides of the cursor row, with reasons"),
    Action(
        "map",
        "m",
        "map",
        "Map",
        "Map the unmatched cursor row to an item of the other side, picked by likeness",
    ),
    Action("unmap", "M", "unmap", "Unmap", "Remove the cursor row's mapping (asks first)"),
    Action("log", "l", "run_log", "Log", "The run log: every sync and its changes"),
    Action(
        "intended",
        "I",
        "intended",
        "Intended",
        "Mark a field of the cursor row (or the whole SKU) as an intended difference, or unmark",
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
    Action(
        "sort",
        "o",
        "sort",
        "Sort",
        "Sort the view: SKU, name, quantity gap, price gap (%), value at risk or status",
    ),
    Action("reverse_sort", "O", "reverse_sort", "Reverse", "Reverse the sort of the view"),
    Action(
        "goto",
        "g",
        "goto_sku",
        "Go to",
        "Go to a SKU (its start or letters in order), in this view or else in All",
    ),
    Action(
        "breakdown",
        "F",
        "breakdown",
        "Breakdown",
        "The view by code, brand and size of gap: Enter shows only a line, space selects it",
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
    return {
        "slash": "/",
        "question_mark": "?",
        "enter": "Enter",
        "escape": "Esc",
        "comma": ",",
    }.get(action.key, action.key)
