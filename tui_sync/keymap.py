"""The console's keys as the user set them: `[keys]` of the config (action id -> keys) over the
defaults of the action registry (tui_sync/tui/actions.py).

No textual here: the config is validated, and `tui-sync keys` prints the map, without loading
the console. Key names follow Textual's: a single character or a named key (`enter`, `f5`,
`slash`, `question_mark`), after optional modifiers (`ctrl+`, `shift+`, `alt+`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# `q` and `ctrl+q` quit whatever the keymap says: a remapped console can always be left.
QUIT_ACTION = "quit"
ALWAYS_QUIT = ("q", "ctrl+q")

MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
NAMED_KEYS = frozenset(
    (
        "enter",
        "escape",
        "tab",
        "space",
        "backspace",
        "delete",
        "insert",
        "home",
        "end",
        "pageup",
        "pagedown",
        "up",
        "down",
        "left",
        "right",
        *(f"f{n}" for n in range(1, 25)),
    )
)
# As Textual names these characters (textual.keys.KEY_NAME_REPLACEMENTS).
_NAME_REPLACEMENTS = {
    "solidus": "slash",
    "reverse_solidus": "backslash",
    "commercial_at": "at",
    "hyphen_minus": "minus",
    "plus_sign": "plus",
    "low_line": "underscore",
}
_REPLACED = {v: k for k, v in _NAME_REPLACEMENTS.items()}
_DISPLAY = {
    "slash": "/",
    "question_mark": "?",
    "enter": "Enter",
    "escape": "Esc",
    "space": "space",
    "comma": ",",
}


class BadKey(ValueError):
    """A key that no terminal sends as written (one line, naming it)."""


def _character_name(character: str) -> str:
    if character.isalnum():
        return character
    try:
        name = unicodedata.name(character).lower().replace("-", "_").replace(" ", "_")
    except ValueError:
        return character
    return _NAME_REPLACEMENTS.get(name, name)


def _is_character_name(name: str) -> bool:
    unicode_name = _REPLACED.get(name, name).upper().replace("_", " ")
    try:
        character = unicodedata.lookup(unicode_name)
    except KeyError:
        return False
    return len(character) == 1 and character.isprintable() and not character.isspace()


def normalize_key(text: str) -> str:
    """One key in Textual's long form (`/` -> `slash`), or BadKey saying what is wrong."""
    key = text.strip()
    if not key:
        raise BadKey("an empty key")
    *modifiers, base = key.split("+") if len(key) > 1 else [key]
    for modifier in modifiers:
        if modifier.lower() not in MODIFIERS:
            known = ", ".join(MODIFIERS)
            raise BadKey(f"unknown modifier {modifier!r} in {key!r} (one of {known})")
    if len(base) == 1:
        if not base.isprintable() or base.isspace() or base == ",":
            raise BadKey(f"{key!r} is not a key")
        base = _character_name(base)
    elif base.lower() in NAMED_KEYS:
        base = base.lower()
    elif not _is_character_name(base):
        raise BadKey(f"unknown key {key!r}")
    return "+".join([*(m.lower() for m in modifiers), base])


def parse_keys(value: str | Iterable[str]) -> tuple[str, ...]:
    """`"a,ctrl+x"` or `["a", "ctrl+x"]` as normalized keys, in order, without repeats."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    keys = tuple(dict.fromkeys(normalize_key(p) for p in parts))
    if not keys:
        raise BadKey("no key given")
    return keys


def display(key: str) -> str:
    return _DISPLAY.get(key, key)


@dataclass(frozen=True, slots=True)
class KeyMap:
    """The effective keys of each action, and what clashed on the way."""

    keys: dict[str, tuple[str, ...]]  # action id -> keys, in registry order
    clashes: list[str]

    def for_textual(self) -> dict[str, str]:
        """The map for `App.set_keymap`: binding id -> comma-separated keys."""
        return {action: ",".join(keys) for action, keys in self.keys.items() if keys}


def effective(
    defaults: Mapping[str, tuple[str, ...]],
    overrides: Mapping[str, tuple[str, ...]],
    scopes: Mapping[str, str] | None = None,
) -> KeyMap:
    """The registry's keys with the config's over them, as Textual's keymap does it: a key the
    config gives an action is taken from the action that had it by default. Within one scope
    (the main screen, the run log), two actions the config puts on one key clash: the first in
    the registry keeps it. Every clash is named. `q` and `ctrl+q` always quit."""
    scopes = scopes or {}
    clashes: list[str] = []
    taken: dict[tuple[str, str], str] = {}
    chosen: dict[str, tuple[str, ...]] = {}

    def claim(action: str, wanted: tuple[str, ...], overridden: bool) -> tuple[str, ...]:
        scope = scopes.get(action, "app")
        kept: list[str] = []
        for key in wanted:
            if action != QUIT_ACTION and key in ALWAYS_QUIT:
                clashes.append(f"{display(key)}: not for {action}, {display(key)} always quits")
                continue
            holder = taken.get((scope, key))
            if holder is not None:
                clashes.append(
                    f"{display(key)}: {action} clashes with {holder}, kept for {holder}"
                    if overridden
                    else f"{display(key)}: no longer {action} (its default), now {holder}"
                )
                continue
            taken[(scope, key)] = action
            kept.append(key)
        return tuple(kept)

    quit_keys = (*ALWAYS_QUIT, *overrides.get(QUIT_ACTION, defaults.get(QUIT_ACTION, ())))
    if QUIT_ACTION in defaults:
        chosen[QUIT_ACTION] = claim(QUIT_ACTION, tuple(dict.fromkeys(quit_keys)), True)
    for action in defaults:
        if action in overrides and action != QUIT_ACTION:
            kept = claim(action, overrides[action], True)
            if kept:  # else its default keys, where they are free
                chosen[action] = kept
    for action, default in defaults.items():
        if action not in chosen:
            chosen[action] = claim(action, default, False)
    return KeyMap({action: chosen[action] for action in defaults}, clashes)
