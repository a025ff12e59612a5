"""`x`: export the view, the selection or a plan: what, the format, the path (a small modal).

It only asks; the app writes the file in a thread worker (export.py streams the rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, RadioSet

from tui_sync.tui.radio import ChoiceSet, TextRadioButton


@dataclass(frozen=True, slots=True)
class ExportChoice:
    key: str  # "view", "selection" or "plan"
    label: str  # with its row count
    formats: tuple[str, ...]  # "csv", "json"; a plan: "plan"


@dataclass(frozen=True, slots=True)
class ExportRequest:
    what: str
    fmt: str
    path: Path


FORMAT_LABELS = {"csv": "CSV (as diff --csv)", "json": "JSON (as diff --json)", "plan": "Plan file"}


class ExportDialog(ModalScreen[ExportRequest | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, choices: Sequence[ExportChoice], paths: dict[tuple[str, str], Path]):
        """`paths`: the default path of each (what, format)."""
        super().__init__()
        self.choices = list(choices)
        self.paths = paths
        self._shown_default: Path | None = None

    def compose(self) -> ComposeResult:
        formats = sorted(
            {f for c in self.choices for f in c.formats}, key=list(FORMAT_LABELS).index
        )
        with Vertical(id="dialog"):
            yield Label("Export", id="dialog-title")
            with Horizontal(id="choices"):
                with Vertical():
                    yield Label("What")
                    with ChoiceSet(id="export-what", compact=True):
                        for i, choice in enumerate(self.choices):
                            yield TextRadioButton(
                                Content(choice.label), value=i == 0, name=choice.key
                            )
                with Vertical():
                    yield Label("Format")
                    with ChoiceSet(id="export-format", compact=True):
                        for i, fmt in enumerate(formats):
                            yield TextRadioButton(FORMAT_LABELS[fmt], value=i == 0, name=fmt)
            yield Label("Path")
            yield Input(id="export-path")
            with Horizontal(id="buttons"):
                yield Button("Export", id="export", variant="primary")
                yield Button("Cancel", id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self._show_default()
        self.query_one("#export-path", Input).focus()

    def _pressed(self, selector: str) -> str:
        button = self.query_one(selector, RadioSet).pressed_button
        return button.name or "" if button is not None else ""

    def _request(self) -> tuple[str, str]:
        what = self._pressed("#export-what")
        choice = next((c for c in self.choices if c.key == what), self.choices[0])
        fmt = self._pressed("#export-format")
        return choice.key, fmt if fmt in choice.formats else choice.formats[0]

    def _show_default(self) -> None:
        # A path the user typed stays; one we suggested follows the choices.
        box = self.query_one("#export-path", Input)
        if self._shown_default is not None and box.value != str(self._shown_default):
            return
        self._shown_default = self.paths.get(self._request())
        box.value = "" if self._shown_default is None else str(self._shown_default)

    @on(RadioSet.Changed)
    def _changed(self) -> None:
        self._show_default()

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export")
    def _export(self) -> None:
        text = self.query_one("#export-path", Input).value.strip()
        if not text:
            self.notify("Name the file to write", severity="warning", markup=False)
            return
        what, fmt = self._request()
        self.dismiss(ExportRequest(what, fmt, Path(text).expanduser()))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
