"""A checkbox whose state reads without colour: `[x]` or `[ ]`.

Textual's own draws an X in both states and tells them apart by colour only, which a 16-colour
or NO_COLOR terminal loses.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox


class TextCheckbox(Checkbox):
    @property
    def _button(self) -> Content:
        return Content.styled("[x]", "bold") if self.value else Content("[ ]")
