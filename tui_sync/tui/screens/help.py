"""Keys, views, cell codes and statuses, from the same registry as the bindings."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui_sync.model import CODE_MEANING, STATUS_LABELS
from tui_sync.tui.actions import ACTIONS, key_label

GRID_KEYS = (
    ("↑ ↓ PgUp PgDn Home End", "move the cursor"),
    ("space", "select / unselect the cursor row"),
    ("shift+↑ shift+↓", "extend the selection"),
    ("ctrl+p", "command palette: every action by name"),
)


def help_text() -> str:
    lines = ["[b]Keys[/b]"]
    lines += [f"  {key_label(a):<22} {a.help}" for a in ACTIONS]
    lines += [f"  {k:<22} {v}" for k, v in GRID_KEYS]
    lines += ["", "[b]Cells[/b]  S synchronized · N not · - does not apply"]
    lines += [f"  {code:<4} N = {meaning}" for code, meaning in CODE_MEANING.items()]
    lines += ["", "[b]Statuses[/b] (first that applies)"]
    lines += [f"  {label}" for label in STATUS_LABELS.values()]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [  # noqa: RUF012
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(help_text())
