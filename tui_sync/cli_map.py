"""The `map` and `unmap` commands (DESIGN.md section 2): parsing and printing only; the rule and
the re-pairing are in mapping.py, the ranking of `--suggest` in likeness.py.

`map --import FILE.csv` is a dry run unless `--yes` is given: it lists what it would map and
what it refuses, line by line, and maps nothing, so a cron line (or a script that forgot the
flag) can run it every day without changing a thing.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tui_sync import mapping
from tui_sync.cache import Cache, sku_key
from tui_sync.config import ConfigError, PairConfig
from tui_sync.likeness import suggest
from tui_sync.mapping import MappingRefused
from tui_sync.sync import policy_for
from tui_sync.text import inert

EXIT_OK, EXIT_FAILED = 0, 1
P = TypeVar("P", bound=argparse.ArgumentParser)


# Bad flags or an unreadable import file: exit 2 in one line, as a bad config (cli_auto too).
MapUsage = ConfigError


def add_parser(sub: argparse._SubParsersAction[P], parents: list[P]) -> None:
    map_cmd = sub.add_parser(
        "map",
        parents=parents,
        help="match a store SKU to a differently spelled back-office SKU",
        description="map STORE_SKU BACKOFFICE_SKU | map --list [--json] | "
        "map --import FILE.csv [--yes] | map --suggest [--json] [--limit N]",
    )
    map_cmd.add_argument("store_sku", nargs="?", metavar="STORE_SKU")
    map_cmd.add_argument("backoffice_sku", nargs="?", metavar="BACKOFFICE_SKU")
    mode = map_cmd.add_mutually_exclusive_group()
    mode.add_argument("--list", action="store_true", help="every mapping of the pair")
    mode.add_argument(
        "--import",
        dest="import_file",
        type=Path,
        metavar="FILE.csv",
        help="two columns (store SKU, back-office SKU) after a header line; a dry run that "
        "lists what it would map and refuses, unless --yes",
    )
    mode.add_argument(
        "--suggest",
        action="store_true",
        help="the best candidate pairs among unmatched items, with a score and why",
    )
    map_cmd.add_argument("--json", action="store_true", help="with --list or --suggest")
    map_cmd.add_argument("--yes", action="store_true", help="with --import: apply it")
    map_cmd.add_argument("--limit", type=int, help="with --suggest: at most N pairs (20)")
    unmap = sub.add_parser("unmap", parents=parents, help="remove a store SKU's mapping")
    unmap.add_argument("store_sku", metavar="STORE_SKU")


def check_usage(args: argparse.Namespace) -> None:
    """Every flag fits the form it is used in; checked before the cache is touched."""
    if args.command == "unmap":
        if not args.store_sku.strip():
            raise MapUsage("STORE_SKU: empty; name the store SKU to unmap")
        return
    skus = [s for s in (args.store_sku, args.backoffice_sku) if s is not None]
    listing, importing, suggesting = args.list, args.import_file is not None, args.suggest
    if (listing or importing or suggesting) and skus:
        raise MapUsage("map: give two SKUs, or one of --list, --import, --suggest")
    if not (listing or importing or suggesting) and len(skus) != 2:
        raise MapUsage("map: give STORE_SKU BACKOFFICE_SKU (or --list, --import, --suggest)")
    if any(not s.strip() for s in skus):
        raise MapUsage("map: an empty SKU; name both")
    if args.json and not (listing or suggesting):
        raise MapUsage("--json: only with --list or --suggest")
    if args.yes and not importing:
        raise MapUsage("--yes: only with --import")
    if args.limit is not None and (not suggesting or args.limit < 1):
        raise MapUsage("--limit: a number from 1, only with --suggest")


def run(data_dir: Path, pair: PairConfig, args: argparse.Namespace) -> int:
    """A map command on a refreshed cache (`check_usage` already passed)."""
    with Cache.open(data_dir) as cache:
        if args.command == "unmap":
            return _unmap(cache, pair, args.store_sku)
        if args.list:
            return _list(cache, pair, args.json)
        if args.suggest:
            return _suggest(cache, pair, args.json, args.limit or 20)
        if args.import_file is not None:
            return _import(cache, pair, args.import_file, args.yes)
        return _map(cache, pair, args.store_sku, args.backoffice_sku)


def _status(cache: Cache, pair: str, key: str) -> str:
    found = cache.conn.execute(
        "SELECT status FROM rows WHERE pair = ? AND key = ?", (pair, key)
    ).fetchone()
    return "no row" if found is None else str(found[0])


def _map(cache: Cache, pair: PairConfig, store_sku: str, backoffice_sku: str) -> int:
    try:
        key = mapping.map_skus(cache, pair.name, policy_for(pair), store_sku, backoffice_sku)
    except MappingRefused as exc:
        print(
            f"tui-sync: cannot map {inert(store_sku.strip())} to "
            f"{inert(backoffice_sku.strip())}: {exc}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(
        f"mapped store SKU {inert(store_sku.strip())} to back-office SKU "
        f"{inert(backoffice_sku.strip())}: the row is now {_status(cache, pair.name, key)}"
    )
    return EXIT_OK


def _unmap(cache: Cache, pair: PairConfig, store_sku: str) -> int:
    try:
        was = mapping.unmap_sku(cache, pair.name, policy_for(pair), store_sku)
    except MappingRefused as exc:
        print(f"tui-sync: cannot unmap: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"unmapped store SKU {inert(store_sku.strip())} (was mapped to {inert(was)}): "
        "both items are unmatched again"
    )
    return EXIT_OK


def _list(cache: Cache, pair: PairConfig, as_json: bool) -> int:
    found = mapping.list_mappings(cache, pair.name)
    if as_json:
        print(
            json.dumps(
                [
                    {"store_sku": m.store_key, "backoffice_sku": m.backoffice_key}
                    | {"status": m.status}
                    for m in found
                ],
                indent=2,
            )
        )
        return EXIT_OK
    if not found:
        print(f"no mappings for pair {inert(pair.name)}")
        return EXIT_OK
    width = max(len(inert(m.store_key)) for m in found)
    back = max(len(inert(m.backoffice_key)) for m in found)
    print(f"{'STORE SKU':<{width}}  {'BACK-OFFICE SKU':<{back}}  ROW")
    for m in found:
        status = m.status or "an item is missing (refresh, or unmap)"
        print(f"{inert(m.store_key):<{width}}  {inert(m.backoffice_key):<{back}}  {status}")
    return EXIT_OK


def _suggest(cache: Cache, pair: PairConfig, as_json: bool, limit: int) -> int:
    found = suggest(cache, pair.name, limit)
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "store_sku": s.store.sku,
                        "backoffice_sku": s.backoffice.sku,
                        "score": s.likeness.score,
                        "why": list(s.likeness.why),
                        "store_name": s.store.name,
                        "backoffice_name": s.backoffice.name,
                    }
                    for s in found
                ],
                indent=2,
            )
        )
        return EXIT_OK
    if not found:
        print("no likely pairs among the unmatched items")
        return EXIT_OK
    for s in found:
        print(
            f"{s.likeness.score:>3}  {inert(s.store.sku)} -> {inert(s.backoffice.sku)}  "
            f"({inert(', '.join(s.likeness.why))})"
        )
    print("map one with: tui-sync map STORE_SKU BACKOFFICE_SKU")
    return EXIT_OK


# --- import ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    store_sku: str
    backoffice_sku: str
    refused: str | None  # why, or None when it would be mapped


def _read(path: Path) -> list[_Line | tuple[int, str]]:
    """The file's lines after its header: a parsed pair, or (line number, why it is bad)."""
    shown = inert(str(path))
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            out: list[_Line | tuple[int, str]] = []
            try:
                header = next(reader, None)
                if header is None:
                    raise MapUsage(f"--import {shown}: empty file (a header, then two columns)")
                if len(header) != 2:
                    raise MapUsage(
                        f"--import {shown}:1: the header needs two columns (store SKU, "
                        f"back-office SKU), found {len(header)}"
                    )
                for record in reader:
                    number = reader.line_num
                    if not any(cell.strip() for cell in record):
                        continue
                    if len(record) != 2:
                        out.append((number, f"expected 2 columns, found {len(record)}"))
                    elif not (record[0].strip() and record[1].strip()):
                        out.append((number, "an empty SKU"))
                    else:
                        out.append(_Line(number, record[0].strip(), record[1].strip(), None))
            except csv.Error as exc:
                out.append((reader.line_num, f"not CSV: {exc}"))
            return out
    except UnicodeDecodeError:
        raise MapUsage(f"--import {shown}: not UTF-8 text") from None
    except OSError as exc:
        raise MapUsage(f"--import {shown}: {exc.strerror or exc}") from None


def _import(cache: Cache, pair: PairConfig, path: Path, yes: bool) -> int:
    shown = inert(str(path))
    lines = _read(path)
    # The file's lines are checked against the cache and against each other: a later line
    # that reuses a store or back-office SKU of an earlier one is refused, naming it.
    stores: dict[str, int] = {}
    backs: dict[str, int] = {}
    checked: list[_Line] = []
    bad = 0
    for line in lines:
        if isinstance(line, tuple):
            number, why = line
            print(f"refused {shown}:{number}: bad line: {inert(why)}")
            bad += 1
            continue
        store_key = sku_key(line.store_sku, "store", "")
        back_key = sku_key(line.backoffice_sku, "backoffice", "")
        reason = mapping.check_map(cache, pair.name, line.store_sku, line.backoffice_sku)
        if reason is None and store_key in stores:
            reason = f"already mapped by line {stores[store_key]}"
        if reason is None and back_key in backs:
            reason = f"would create a duplicate: line {backs[back_key]} maps to it too"
        if reason is None:
            stores[store_key], backs[back_key] = line.number, line.number
        checked.append(_Line(line.number, line.store_sku, line.backoffice_sku, reason))
    good = [c for c in checked if c.refused is None]
    verb = "mapped" if yes else "would map"
    for c in checked:
        pair_text = f"{inert(c.store_sku)} -> {inert(c.backoffice_sku)}"
        if c.refused is None:
            print(f"{verb} {pair_text} ({shown}:{c.number})")
        else:
            print(f"refused {shown}:{c.number}: {pair_text}: {c.refused}")
    refused = bad + len(checked) - len(good)
    if yes:
        if good:
            mapping.map_many(
                cache, pair.name, policy_for(pair), [(c.store_sku, c.backoffice_sku) for c in good]
            )
        print(f"{len(good)} mapped, {refused} refused")
    else:
        print(
            f"dry run: nothing mapped; {len(good)} would be mapped, {refused} refused. "
            "Add --yes to map them."
        )
    return EXIT_FAILED if refused else EXIT_OK
