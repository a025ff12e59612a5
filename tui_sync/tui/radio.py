"""Radio buttons and sets that read without colour, and that highlight what is chosen.

Textual's RadioButton draws a dot in both states (colour tells them apart), and its RadioSet
highlights the first button on mount even when another is the one pressed.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import RadioButton, RadioSet


class TextRadioButton(RadioButton):
    @property
    def _button(self) -> Content:
        return Content.styled("(x)", "bold") if self.value else Content("( )")


class ChoiceSet(RadioSet):
    def on_mount(self) -> None:
        # Runs after RadioSet's own mount handler, which put the highlight on the first button.
        pressed = self.pressed_index
        if pressed >= 0:
            self._selected = pressed
