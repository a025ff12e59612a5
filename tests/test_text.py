"""Hostile text from a remote side is made inert: nothing a terminal would act on survives."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from tui_sync.text import csv_text, inert

HOSTILE = {
    "osc0 title": "\x1b]0;pwned\x07",
    "osc52 clipboard": "\x1b]52;c;aGVsbG8=\x07",
    "dcs": "\x1bP1$r\x1b\\",
    "c1 csi": "\x9b31mred",
    "rlo": "abc\u202edcba",
    "nul": "a\x00b",
    "newline": "two\nlines",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_no_control_or_bidi_character_survives(text: str) -> None:
    shown = inert(text)
    assert all(ch.isprintable() for ch in shown), repr(shown)
    assert "\u202e" not in shown


def test_escape_is_visible_not_dropped() -> None:
    assert inert("\x1b]0;x\x07") == "␛]0;x␇"
    assert inert("a\u202eb") == "a<U+202E>b"
    assert inert("\x9b") == "\\x9b"


def test_ordinary_text_is_untouched() -> None:
    for text in ("TSHIRT-RED-M", "Café crème", "日本語の名前", "[b]not markup[/b]", "100%"):
        assert inert(text) == text


def test_emoji_sequence_has_one_agreed_width() -> None:
    family = "👨\u200d👩\u200d👧"
    assert inert(family) == "👨👩👧"
    assert cell_len(inert(family)) == 6
    assert inert("👍🏽") == "👍"


@given(st.text())
def test_inert_output_has_no_control_format_or_unassigned_character(text: str) -> None:
    for ch in inert(text):
        category = unicodedata.category(ch)
        assert category[0] != "C" and category not in ("Zl", "Zp"), repr(ch)


def test_csv_text_neutralises_formulas() -> None:
    assert csv_text("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_text("+1") == "'+1"
    assert csv_text("-2+3") == "'-2+3"
    assert csv_text("@SUM(A1)") == "'@SUM(A1)"
    assert csv_text("\tx") == "'␉x"
    assert csv_text("plain") == "plain"
