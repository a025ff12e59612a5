"""`tui-sync keys`: the console's effective key map (the registry's keys with the config's
`[keys]` over them) and every clash, without starting the console."""

from __future__ import annotations

import argparse
from typing import TypeVar

from tui_sync.config import Config
from tui_sync.text import inert

EXIT_OK = 0
P = TypeVar("P", bound=argparse.ArgumentParser)
SCREENS = {"app": "main", "run_log": "run log"}


def add_parser(sub: argparse._SubParsersAction[P], parents: list[P]) -> None:
    sub.add_parser(
        "keys",
        parents=parents,
        help="the console's key map (defaults with the config's [keys] over them) and clashes",
    )


def run_keys(config: Config) -> int:
    from tui_sync.keymap import ALWAYS_QUIT, display
    from tui_sync.tui.actions import ACTIONS, effective_keys

    keymap = effective_keys(config.keys)
    width = max(len(a.id) for a in ACTIONS)
    keys_width = max(len(" ".join(display(k) for k in keys)) for keys in keymap.keys.values())
    print(f"{'action':<{width}}  {'keys':<{keys_width}}  {'where':<7}  what")
    for action in ACTIONS:
        keys = " ".join(display(k) for k in keymap.keys[action.id]) or "(none)"
        changed = "*" if action.id in config.keys else " "
        where = SCREENS.get(action.screen, action.screen)
        print(f"{action.id:<{width}}  {keys:<{keys_width}}  {where:<7} {changed}{action.help}")
    quits = " and ".join(ALWAYS_QUIT)
    source = f"[keys] of {inert(str(config.path))}" if config.path and config.keys else "no [keys]"
    print(f"(* set in the config; {source}; {quits} always quit)")
    for clash in keymap.clashes:
        print(f"clash: {clash}")
    return EXIT_OK
