"""What the user sees of the console: the text of every terminal line, and the raw characters.

`render_strips` is what the compositor sends to the terminal for the open screen (a modal
screen's own widgets; the dimmed screen behind it is not repeated), so a control character found
here is one that would reach the user's terminal.
"""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.strip import Strip

# What must never reach a terminal from remote text: ESC, BEL, 8-bit CSI, RLO, NUL.
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\x00")


def screen_strips(app: App[Any]) -> list[Strip]:
    return app.screen._compositor.render_strips()


def screen_lines(app: App[Any]) -> list[str]:
    return [strip.text for strip in screen_strips(app)]


def screen_text(app: App[Any]) -> str:
    return "\n".join(screen_lines(app))


def raw_controls(text: str) -> list[str]:
    return [repr(c) for c in RAW if c in text]
