"""The last step before a plan is written: a prompt that names the side, the count and whether
it is the master, answered with a deliberate key.

A stray or auto-repeated key must never write: Enter does nothing here (nothing is focusable but
the count box), `y` is not the key that opened the prompt, and every key is ignored for
ARM_SECONDS after the prompt appears. Writing the master, or more than TYPE_COUNT_OVER changes,
asks for the change count to be typed instead of `y`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Static

from tui_sync.model import Plan, other_side, side_label
from tui_sync.text import inert

# The pair's config has no key for it (yet): plans over this many changes ask for the count.
TYPE_COUNT_OVER = 500


class ConfirmApply(ModalScreen[bool]):
    BINDINGS: ClassVar = [
        Binding("y", "confirm", "Write", key_display="y"),
        Binding("n,escape", "back", "Back"),
    ]

    AUTO_FOCUS = None  # nothing takes focus by itself: Enter must find nothing to press
    ARM_SECONDS: ClassVar[float] = 0.5  # tests set 0; a separate test checks the window
    TYPE_COUNT_OVER: ClassVar[int] = TYPE_COUNT_OVER
    clock: ClassVar[Callable[[], float]] = staticmethod(time.monotonic)

    def __init__(self, plan: Plan, master: bool, origin: str, guards: Sequence[str] = ()) -> None:
        super().__init__()
        self.plan = plan
        self.master = master
        self.origin = origin
        # Reasons the mass-change guards gave (guards.py): the same confirmation as the master.
        self.guards = list(guards)
        self.count = len(plan.changes)
        self.typed = master or bool(self.guards) or self.count > self.TYPE_COUNT_OVER
        self._shown_at = self._now()

    def _now(self) -> float:
        return type(self).clock()

    @property
    def armed(self) -> bool:
        return self._now() - self._shown_at >= self.ARM_SECONDS

    def prompt(self) -> Text:
        side = side_label(self.plan.target)
        text = Text()
        text.append(f"Write {self.count:,} change(s) to the {side}", style="bold")
        if self.master:
            text.append(" — the MASTER of this pair", style="bold reverse")
            source = side_label(other_side(self.plan.target))
            text.append(f": its values will be replaced by the {source}'s.")
        else:
            text.append(" (not the master).")
        text.append(f"\n{self.origin}")
        for reason in self.guards:
            text.append("\nGuard: ", style="bold reverse")
            text.append(inert(reason))
        if self.typed:
            text.append(f"\nType {self.count} and press Enter to write; n or Esc goes back.")
        else:
            text.append("\nPress y to write; n or Esc goes back.")
        return text

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(self.prompt(), id="confirm-text")
            if self.typed:
                yield Input(placeholder=f"type {self.count} to write", id="confirm-count")
            with Horizontal(id="confirm-buttons"):
                buttons = [Button("Back (n)", id="confirm-no")]
                if not self.typed:
                    buttons.insert(0, Button("Write (y)", id="confirm-yes", variant="warning"))
                for button in buttons:
                    button.can_focus = False  # Enter must not press them; the mouse still can
                    yield button
        yield Footer()

    def on_mount(self) -> None:
        self._shown_at = self._now()
        if self.typed:
            self.query_one(Input).focus()

    def action_confirm(self) -> None:
        if self.armed and not self.typed:
            self.dismiss(True)

    def action_back(self) -> None:
        self.dismiss(False)

    @on(Input.Changed, "#confirm-count")
    def _typed_early(self, event: Input.Changed) -> None:
        if not self.armed and event.value:
            event.input.value = ""  # typed (or repeated) before the prompt could be read

    @on(Input.Submitted, "#confirm-count")
    def _count_submitted(self, event: Input.Submitted) -> None:
        if not self.armed:
            return
        if event.value.strip().replace(",", "") == str(self.count):
            self.dismiss(True)
        else:
            event.input.value = ""
            self.notify(f"Type {self.count} exactly to write", severity="warning", markup=False)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm-yes":
            self.action_confirm()
        else:
            self.action_back()
