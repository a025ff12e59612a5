"""The console's themes, as the config names them (`theme = ...`, CONSOLE_THEMES): each keeps
every S and N cell readable, by its letter and a style that survives the palette.

- dark, light: Textual's own; the grid's cell colours are chosen for both (grid.py).
- 16-colour: the terminal's own ANSI colours (S green, N bright red, bold), for TERM=xterm or
  PuTTY; the grid's rules for it are the `:ansi` ones in app.tcss.
- monochrome: no colour at all, as NO_COLOR gives: the grid's `:nocolor` rules show N cells
  and the cursor row in reverse video, which greyscale cannot hide.
"""

from __future__ import annotations

from dataclasses import replace

from textual.theme import BUILTIN_THEMES, Theme

SIXTEEN = "tui-sync-16-colour"
MONOCHROME = "tui-sync-monochrome"
# Config name -> Textual theme name.
THEME_NAMES = {
    "dark": "textual-dark",
    "light": "textual-light",
    "16-colour": SIXTEEN,
    "monochrome": MONOCHROME,
}


def themes() -> list[Theme]:
    """The two themes tui-sync adds to Textual's (and to its command palette)."""
    sixteen = replace(BUILTIN_THEMES["ansi-dark"], name=SIXTEEN)
    grey = Theme(
        name=MONOCHROME,
        primary="#c0c0c0",
        secondary="#a0a0a0",
        accent="#ffffff",
        warning="#e0e0e0",
        error="#ffffff",
        success="#d0d0d0",
        foreground="#e0e0e0",
        background="#000000",
        surface="#111111",
        panel="#262626",
        dark=True,
    )
    return [sixteen, grey]
