"""Text from a store, a back office, a file or the cache, made inert for a terminal.

Every such string is hostile until shown through `inert`: an escape sequence in a product name
must not retitle the terminal (OSC 0), write the clipboard (OSC 52) or reach a DCS parser; a
bidi override must not reorder what the seller reads; a zero-width joiner must not make one
cell count differently for us and for the terminal, shifting the rest of a grid row.

`inert` keeps every printable character and makes the rest visible:
- C0 controls and DEL become their Unicode control pictures (ESC -> "␛", NUL -> "␀", tab "␉"),
- C1 controls (U+0080..U+009F, an 8-bit CSI is U+009B) become "\\x9b"-style text,
- bidi embeddings, overrides and isolates, and other invisible format characters, become
  "<U+202E>"-style text, so a spoofed name is seen as spoofed,
- joiners, variation selectors and skin-tone modifiers, whose width terminals disagree on, are
  dropped, so an emoji sequence is drawn as the separate emoji every terminal agrees on,
- line and paragraph separators become a space.

The result is plain text: show it through rich `Text` / Textual `Content`, never as markup.
"""

from __future__ import annotations

import re
import unicodedata

_C0_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)} | {0x7F: "\u2421"}
_DROPPED = {
    0x200C,  # zero width non-joiner
    0x200D,  # zero width joiner (emoji ZWJ sequences)
    0xFE0E,  # variation selector 15 (text presentation)
    0xFE0F,  # variation selector 16 (emoji presentation): terminals disagree on its width
}
_SPACES = {0x2028, 0x2029, 0x0085}

# Printable characters that still change how wide a terminal draws a run of text.
_WIDTH_TRICKS = re.compile("[\ufe00-\ufe0f\U0001f3fb-\U0001f3ff]")


def _visible(char: str) -> str:
    code = ord(char)
    if code in _C0_PICTURES:
        return _C0_PICTURES[code]
    if code in _SPACES:
        return " "
    if 0x80 <= code <= 0x9F:
        return f"\\x{code:02x}"
    if code in _DROPPED or 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF:
        return ""
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    category = unicodedata.category(char)
    if category[0] == "C" or category in ("Zl", "Zp"):
        return f"<U+{code:04X}>"
    return char


def inert(text: str | None) -> str:
    """`text` with nothing a terminal would act on: safe to print, one line, no markup parsed."""
    if not text:
        return ""
    # Ordinary text (letters, CJK, plain emoji) is printable and has no width tricks: one scan.
    if text.isprintable() and (text.isascii() or not _WIDTH_TRICKS.search(text)):
        return text
    return "".join(map(_visible, text))


# OWASP's CSV injection guidance: a cell that a spreadsheet would read as a formula starts with
# one of these; prefixing a single quote makes it text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(text: str | None) -> str:
    """A text cell for a CSV that a spreadsheet will open: never a formula, never a control."""
    if text is None:
        return ""
    shown = inert(text)
    return "'" + shown if text.startswith(_FORMULA_START) else shown
