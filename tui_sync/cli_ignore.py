"""`tui-sync ignore SKU [FIELD] [--note TEXT] | unignore SKU [FIELD] | ignore --list [--json]`:
parsing and printing only (the marks and their rescoring are in intended.py)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TypeVar

from tui_sync import intended
from tui_sync.cache import Cache
from tui_sync.config import ConfigError, PairConfig
from tui_sync.model import CODES, Row
from tui_sync.report import fit, sku_width
from tui_sync.text import inert

EXIT_OK, EXIT_FAILED = 0, 1
P = TypeVar("P", bound=argparse.ArgumentParser)
FIELD_HELP = "quantity, price or cost; left out: the whole SKU"


def add_parser(sub: argparse._SubParsersAction[P], parents: list[P]) -> None:
    ignore = sub.add_parser(
        "ignore",
        parents=parents,
        help="mark a SKU's field (or the whole SKU) as an intended difference: never synced",
    )
    # Not `sku`: cli.py checks `args.sku` as the `--sku` selector of sync.
    ignore.add_argument("marked_sku", nargs="?", metavar="SKU")
    ignore.add_argument("field", nargs="?", metavar="FIELD", help=FIELD_HELP)
    ignore.add_argument("--note", help="why it differs (shown in row detail and the plan)")
    ignore.add_argument("--list", action="store_true", help="every mark of the pair")
    ignore.add_argument("--json", action="store_true", help="with --list: one JSON array")
    unignore = sub.add_parser(
        "unignore", parents=parents, help="remove an intended-difference mark"
    )
    unignore.add_argument("marked_sku", metavar="SKU")
    unignore.add_argument("field", nargs="?", metavar="FIELD", help=FIELD_HELP)


OpenCache = Callable[[Path, PairConfig], AbstractContextManager[Cache]]


def run(data_dir: Path, pair: PairConfig, args: argparse.Namespace, open_cache: OpenCache) -> int:
    """`open_cache` opens the cache refreshed at least once (a SKU is looked up in its rows)."""
    if args.command == "ignore" and args.list:
        if args.marked_sku is not None or args.note is not None:
            raise ConfigError("ignore --list: takes no SKU, FIELD or --note")
        with Cache.open(data_dir) as cache:
            return _list(cache, pair, args.json)
    if args.command == "ignore" and args.json:
        raise ConfigError("--json: only with ignore --list")
    if args.marked_sku is None:
        raise ConfigError("ignore: name a SKU (or --list)")
    if not args.marked_sku.strip():
        raise ConfigError("SKU: empty; name the SKU to mark")
    try:
        field = intended.parse_field(args.field)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        with open_cache(data_dir, pair) as cache:
            if args.command == "ignore":
                row = intended.mark(cache, pair, args.marked_sku, field, args.note or "")
                note = intended.clean_note(args.note)
                print(
                    f"{inert(row.sku)} {field or 'whole SKU'}: intended difference"
                    + (f" ({inert(note)})" if note else "")
                    + "; never synced"
                )
            else:
                row = intended.unmark(cache, pair, args.marked_sku, field)
                what = f"{field}: no longer an intended difference" if field else "no mark left"
                print(f"{inert(row.sku)} {what}")
    except (intended.UnknownSku, intended.NotMarked) as exc:
        print(f"tui-sync: {inert(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    print(f"  now {row.status.label}: {_cells(row)}")
    return EXIT_OK


def _cells(row: Row) -> str:
    return " ".join(f"{code}:{row.cells[code]}" for code in CODES)


def _list(cache: Cache, pair: PairConfig, as_json: bool) -> int:
    marks = intended.listing(cache, pair.name)
    if as_json:
        print(
            json.dumps(
                [
                    {"sku": sku, "field": m.field, "note": m.note, "marked_at": m.marked_at}
                    for sku, m in marks
                ],
                indent=2,
            )
        )
        return EXIT_OK
    if not marks:
        print(f"no intended differences in pair {inert(pair.name)}")
        return EXIT_OK
    width = sku_width(sku for sku, _ in marks)
    print(f"{fit('SKU', width)} {'FIELD':<9} {'MARKED':<20} NOTE")
    for sku, m in marks:
        print(f"{fit(inert(sku), width)} {m.what:<9} {m.marked_at:<20} {inert(m.note)}")
    return EXIT_OK
