"""One registry of the console's actions: it feeds the key bindings, the footer, the help screen
and the command palette, so they can never disagree. Each action's id is its name in the
config's `[keys]` (tui_sync/keymap.py); this module imports textual only to make the bindings,
so that the config and `tui-sync keys` can read the registry without the console."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui_sync import keymap

if TYPE_CHECKING:
    from textual.binding import BindingType

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
    # Where the key works: "app" (the main screen) or a screen's name ("run_log").
    screen: str = "app"


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
    Action(
        "undo",
        "u",
        "undo",
        "Undo…",
        "Run log: undo the highlighted run (review the reverse plan, pick lines, confirm)",
        True,
        screen="run_log",
    ),
)
ACTION_BY_ID = {a.id: a for a in ACTIONS}


# Actions on the grid and its rows: only while no dialog or panel is open over it.
GRID_ACTIONS = frozenset(
    a.action.split("(")[0] for a in ACTIONS if a.id != "quit" and a.screen == "app"
)


def bindings(screen: str = "app") -> list[BindingType]:
    from textual.binding import Binding

    return [
        Binding(a.key, a.action, a.title, show=a.footer, id=a.id, tooltip=a.help)
        for a in ACTIONS
        if a.screen == screen
    ]


def default_keys() -> dict[str, tuple[str, ...]]:
    return {a.id: keymap.parse_keys(a.key) for a in ACTIONS}


def effective_keys(overrides: Mapping[str, tuple[str, ...]]) -> keymap.KeyMap:
    """The keys of every action with the config's `[keys]` over the defaults."""
    return keymap.effective(default_keys(), overrides, {a.id: a.screen for a in ACTIONS})


def key_label(action: Action, keys: keymap.KeyMap | None = None) -> str:
    """The key(s) of an action as the help and the palette show them."""
    chosen = keys.keys.get(action.id, ()) if keys is not None else keymap.parse_keys(action.key)
    return " ".join(keymap.display(k) for k in chosen) or "(no key)"
