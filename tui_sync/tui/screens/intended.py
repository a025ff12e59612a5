"""`I` on the cursor row: mark a field (or the whole SKU) as an intended difference, with a note,
or remove a mark. The dialog only chooses; the app writes the mark in a thread (intended.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, RadioSet

from tui_sync.model import FIELD_CODES, Field, Row
from tui_sync.text import inert
from tui_sync.tui.radio import ChoiceSet, TextRadioButton

# What can be marked, as the dialog names it; None is the whole SKU.
CHOICES: tuple[tuple[str, Field | None], ...] = (
    ("Quantity", "quantity"),
    ("Price", "price"),
    ("Cost", "cost"),
    ("Whole SKU", None),
)
WHOLE = "whole"


@dataclass(frozen=True, slots=True)
class IntentChoice:
    action: Literal["mark", "unmark"]
    field: Field | None  # None: the whole SKU (unmark: every mark of the row)
    note: str = ""


def _default(row: Row) -> Field | None:
    """The field offered first: the one already marked, else the first that differs."""
    if row.intended:
        return row.intended[0].field
    for name, codes in FIELD_CODES.items():
        if any(row.cells[c] == "N" for c in codes):
            return name
    return "quantity"


def _marks_text(row: Row) -> str:
    if not row.intended:
        return "Not marked."
    return "Marked: " + "; ".join(
        f"{m.what} since {m.marked_at}" + (f" ({m.note})" if m.note else "") for m in row.intended
    )


class IntendedDialog(ModalScreen[IntentChoice | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]  # noqa: RUF012

    def __init__(self, row: Row) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        chosen = _default(self.row)
        with Vertical(id="dialog"):
            yield Label(Content(f"Intended difference: {inert(self.row.sku)}"), id="dialog-title")
            yield Label(Content("Never synced, never out of sync; the grid shows I."), id="origin")
            yield Label(Content(inert(_marks_text(self.row))), id="intended-marks")
            with ChoiceSet(id="intended-field", compact=True):
                for label, field in CHOICES:
                    yield TextRadioButton(label, value=field == chosen, name=field or WHOLE)
            mark = self.row.intent(chosen) if chosen else None
            yield Input(
                value=inert(mark.note) if mark else "",  # from the cache: shown inert
                placeholder="note: why it differs (Enter marks)",
                id="intended-note",
            )
            with Horizontal(id="buttons"):
                yield Button("Mark", id="mark", variant="primary")
                if self.row.intended:
                    yield Button("Unmark", id="unmark", variant="warning")
                yield Button("Cancel", id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#intended-field", RadioSet).focus()

    def _field(self) -> Field | None:
        pressed = self.query_one("#intended-field", RadioSet).pressed_button
        name = pressed.name if pressed is not None else WHOLE
        return next((f for _, f in CHOICES if (f or WHOLE) == name), None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#intended-note")
    def _submitted(self) -> None:
        self._mark()

    def _mark(self) -> None:
        note = self.query_one("#intended-note", Input).value
        self.dismiss(IntentChoice("mark", self._field(), note))

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "mark":
            self._mark()
        elif event.button.id == "unmark":
            self.dismiss(IntentChoice("unmark", self._field()))
        else:
            self.dismiss(None)
