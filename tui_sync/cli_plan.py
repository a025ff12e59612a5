"""`sync --plan FILE`: apply a plan a person reviewed and saved (the console's `x` in the plan),
later, from cron, only if it still holds.

The saved plan names its pair, side, fields and rows. The plan is computed again now, from the
cache, for those rows; if its changes are not exactly the saved ones (the comparison of
`--plan-hash`: guards.plan_lines and guards.compare), nothing is written and what changed is
said, exit 1. If they are, it goes on as any `sync`: the master needs --yes, the mass-change
guards still apply, and applying it re-reads the source and lets the target refuse a value
moved since the last refresh.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from tui_sync import guards, plan_io
from tui_sync.cache import Cache
from tui_sync.config import ConfigError
from tui_sync.model import Plan, Row
from tui_sync.text import inert
from tui_sync.views import iter_rows

EXIT_FAILED = 1


def add_flag(which: argparse._MutuallyExclusiveGroup) -> None:
    which.add_argument(
        "--plan",
        metavar="FILE",
        type=Path,
        help="apply the plan saved in FILE (the console's `x` in a plan) only if it still "
        "holds; else say what changed and write nothing (exit 1). The file names the side, "
        "fields and rows: no --to, --fields, --sku or --status with it",
    )


def saved(args: argparse.Namespace) -> Plan:
    """The plan file, read once; its pair must be the one named, if one is."""
    found = getattr(args, "saved_plan", None)
    if isinstance(found, Plan):
        return found
    try:
        found = plan_io.read(args.plan)
    except plan_io.PlanFileError as exc:
        raise ConfigError(f"--plan {exc}") from None
    if args.to is not None or args.fields is not None:
        raise ConfigError(
            "--plan: the plan file names the side and the fields; leave out --to and --fields"
        )
    named = getattr(args, "pair", None)
    if named is not None and named.strip() != found.pair:
        raise ConfigError(
            f"--plan {args.plan}: a plan of pair {inert(found.pair)!r}, not {named!r}"
        )
    args.saved_plan = found
    return found


def pair_name(args: argparse.Namespace) -> str | None:
    """The pair of the command: --pair, else the plan file's with --plan."""
    if getattr(args, "plan", None) is not None:
        return saved(args).pair
    return getattr(args, "pair", None)


def skus(the_plan: Plan) -> list[str]:
    """The rows the saved plan acts on: every SKU it writes or refuses."""
    seen = dict.fromkeys([*(c.sku for c in the_plan.changes), *(r.sku for r in the_plan.refusals)])
    return list(seen)


def rows_of(cache: Cache, pair: str, wanted: Sequence[str]) -> Iterator[Row]:
    """The rows of these SKUs, a few hundred per query (SQLite caps the parameters of one)."""
    for start in range(0, len(wanted), 500):
        yield from iter_rows(cache, pair, skus=wanted[start : start + 500])


def still_holds(path: Path, the_saved: Plan, now: Plan) -> int | None:
    """None when the plan computed now is the saved one; else what changed, on stderr, and the
    exit code (nothing is written)."""
    shown, computed = guards.plan_lines(the_saved), guards.plan_lines(now)
    if shown == computed:
        return None
    print(
        f"tui-sync: the plan in {inert(str(path))} no longer holds (plan hash "
        f"{guards.hash_lines(shown)} then, {guards.hash_lines(computed)} now): nothing written",
        file=sys.stderr,
    )
    for line in guards.compare(shown, computed):
        print(inert(line), file=sys.stderr)
    return EXIT_FAILED
