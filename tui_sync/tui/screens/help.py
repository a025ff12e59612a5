"""Keys, views, cell codes and statuses, from the same registry as the bindings.

Plain rich `Text` built piece by piece: the pair's names come from the config and are shown
inert, never parsed as markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from tui_sync.config import PairConfig
from tui_sync.keymap import KeyMap
from tui_sync.model import CODE_MEANING, Status, other_side, side_label
from tui_sync.text import inert
from tui_sync.tui.actions import ACTIONS, ALL_VIEWS, key_label

GRID_KEYS = (
    ("↑ ↓ PgUp PgDn Home End", "move the cursor"),
    ("← →", "move the columns sideways, one column at a time (pinned: mark and SKU)"),
    ("space", "select / unselect the cursor row (the selection survives views and filters)"),
    ("shift+↑ shift+↓", "extend the selection"),
    ("ctrl+p", "command palette: every action by name"),
    ("ctrl+q", "quit (also q)"),
)
COLUMNS = (
    ("St / BO", "the store's / the back office's value (qty, price, cost)"),
    ("Ord", "view: rows whose SKU is in store orders not yet posted to the back office"),
    ("Unm", "view: unmatched rows, an item on one side only"),
    ("Sel", "view: exactly the selected rows"),
    ("▌ ✓", "the cursor row; a selected row"),
)
# What each status means and how a seller closes it.
STATUS_HELP: dict[Status, tuple[str, str]] = {
    Status.BASE: ("a parent product that only groups variants", "nothing: its variants sync"),
    Status.STORE_ONLY: (
        "an item in the store only",
        "create it in the back office, or map its SKU (`tui-sync map`)",
    ),
    Status.BACKOFFICE_ONLY: (
        "an item in the back office only",
        "create it in the store, or map its SKU (`tui-sync map`)",
    ),
    Status.DUPLICATE_SKU: (
        "one SKU on several items of a side",
        "give each item its own SKU on that side, then refresh",
    ),
    Status.IN_ORDERS: (
        "stock is held by store orders not yet posted to the back office",
        "post the orders in the back office; quantity waits, price can sync",
    ),
    Status.OUT_OF_SYNC: (
        "stock, price or cost differ (the Status column says which)",
        "sync (s) from the master, or fix it by hand and refresh",
    ),
    Status.IN_SYNC: ("stock, price and cost agree", "nothing to do"),
}
KEY_WIDTH = 22


def _line(text: Text, key: str, what: str) -> None:
    text.append(f"  {key:<{KEY_WIDTH}} ", style="bold")
    text.append(f"{what}\n")


def help_text(pair: PairConfig | None = None, keys: KeyMap | None = None) -> Text:
    text = Text()
    if pair is not None:
        master = pair.master
        name = inert(pair.store.name if master == "store" else pair.backoffice.name)
        text.append("Master: ", style="bold")
        text.append(
            f"the {side_label(master)} ({name}) is the master of pair {inert(pair.name)}: "
            f"a sync normally updates the {side_label(other_side(master))}, and updating "
            "the master asks you to type the change count.\n\n"
        )
    text.append("Keys\n", style="bold")
    for action in ACTIONS:
        _line(text, key_label(action, keys), action.help)
    for key, what in GRID_KEYS:
        _line(text, key, what)
    text.append("\nColumns and views\n", style="bold")
    for key, what in COLUMNS:
        _line(text, key, what)
    for number, view in enumerate(ALL_VIEWS, start=1):
        _line(text, f"{number} {view.short}", view.label)
    text.append("\nCells", style="bold")
    text.append("  S synchronized · N not · I intended difference (I key) · - does not apply\n")
    for code, meaning in CODE_MEANING.items():
        _line(text, code, f"N = {meaning}")
    text.append(
        "  Q QN P C are what a sync closes; N B IV are not synced (fix them by hand);\n"
        "  NS is intentional and QP settles once the orders are posted: information only.\n"
    )
    text.append("\nStatuses", style="bold")
    text.append(" (the first that applies), and how to close each\n")
    for status, (means, close) in STATUS_HELP.items():
        _line(text, status.label, f"{means}; close: {close}")
    return text


class HelpScreen(ModalScreen[None]):
    BINDINGS = [  # noqa: RUF012
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def __init__(self, pair: PairConfig | None = None, keys: KeyMap | None = None) -> None:
        super().__init__()
        self.pair = pair
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(help_text(self.pair, self.keys))
        yield Footer()
