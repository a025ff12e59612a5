"""The `auto` command and the guards' side of `sync`: parsing and printing only (the logic is in
scheduler.py and guards.py), kept out of cli.py so that it stays a thin dispatcher."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TypeVar

from tui_sync import guards, scheduler
from tui_sync.cache import Cache
from tui_sync.config import ConfigError, PairConfig, parse_duration
from tui_sync.model import Plan
from tui_sync.text import inert

EXIT_FAILED = 1
P = TypeVar("P", bound=argparse.ArgumentParser)


def add_parser(sub: argparse._SubParsersAction[P], parents: list[P]) -> None:
    auto = sub.add_parser(
        "auto",
        parents=parents,
        help="refresh, then the pair's policy sync, on a schedule (one run at a time)",
    )
    when = auto.add_mutually_exclusive_group()
    when.add_argument(
        "--every", metavar="DURATION", help="15m..24h between ticks (default: the pair's schedule)"
    )
    when.add_argument(
        "--once",
        action="store_true",
        help="one tick, then exit: 0 ok, 1 something failed or a guard refused the plan "
        "(for systemd timers, cron, Kubernetes CronJobs)",
    )


def add_sync_flags(sync: argparse.ArgumentParser) -> None:
    sync.add_argument(
        "--allow-mass-change",
        action="store_true",
        help=f"with --yes: apply a plan a guard refused (an empty or short read, many "
        f"quantities to zero, many large price changes); {guards.CONFIRM_FLAGS}",
    )
    sync.add_argument(
        "--plan-hash",
        metavar="HASH",
        help="apply only if the plan computed now is the one `--dry-run` showed with this hash",
    )


def run_auto(data_dir: Path, pair: PairConfig, args: argparse.Namespace) -> int:
    every: float | None
    if args.once:
        every = None
    elif args.every is not None:
        try:
            every = parse_duration(args.every).total_seconds()
        except ConfigError as exc:
            raise ConfigError(f"--every: {exc}") from None
    elif pair.schedule is not None:
        every = pair.schedule.total_seconds()
    else:
        raise ConfigError(
            f"auto: pair {pair.name!r} has no schedule; give --every 15m..24h, or --once"
        )
    return scheduler.run(
        scheduler.Schedule(data_dir, pair, every, sys.stdout, sys.stderr, wait=args.wait)
    )


def _wanted_hash(text: str) -> str:
    wanted = text.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{10}", wanted):
        raise ConfigError(
            f"--plan-hash {text!r}: expected the 10 hex digits `sync --dry-run` printed"
        )
    return wanted


def check_sync(
    data_dir: Path, pair: PairConfig, the_plan: Plan, args: argparse.Namespace
) -> int | None:
    """The guards of a sync whose plan was just printed: None to go on, else the exit code
    (a changed plan or a refused one: nothing written, no run recorded)."""
    lines = guards.plan_lines(the_plan)
    now = guards.hash_lines(lines)
    wanted = None if args.plan_hash is None else _wanted_hash(args.plan_hash)
    with Cache.open(data_dir) as cache:
        if wanted is not None and wanted != now:
            _changed(cache, pair, wanted, now, lines)
            return EXIT_FAILED
        if the_plan.is_empty:
            return None
        reasons = guards.check(
            the_plan, scheduler.guard_counts(cache, pair, the_plan), guards.Thresholds.of(pair)
        )
        if args.dry_run:
            # Remembered so that `--plan-hash` can say what changed since, not only "it did".
            cache.save_shown_plan(pair.name, now, guards.lines_json(lines))
            print(f"plan hash {now}")
            for reason in reasons:
                print(f"guard: {reason}; the real run will need {guards.CONFIRM_FLAGS}")
            return None
        if reasons and not (args.yes and args.allow_mass_change):
            for reason in reasons:
                print(f"tui-sync: guard: {inert(reason)}", file=sys.stderr)
            print(
                f"tui-sync: refused by a guard: nothing written; review the plan above and add "
                f"{guards.CONFIRM_FLAGS} to apply it anyway",
                file=sys.stderr,
            )
            return EXIT_FAILED
        if reasons:
            # A person confirmed a plan built on these counts: a catalog that really shrank is
            # the baseline from now on, not refused at every tick.
            cache.accept_counts(pair.name)
    return None


def _changed(
    cache: Cache, pair: PairConfig, wanted: str, now: str, lines: list[guards.Line]
) -> None:
    print(
        f"tui-sync: plan hash {now} is not {wanted}: the plan changed since it was shown; "
        "nothing written",
        file=sys.stderr,
    )
    shown = cache.shown_plan(pair.name, wanted)
    if shown is None:
        print(
            f"  plan {wanted} was not shown by a --dry-run with this data dir: what changed "
            "cannot be said; run --dry-run again",
            file=sys.stderr,
        )
        return
    for line in guards.compare(guards.lines_from_json(shown), lines):
        print(inert(line), file=sys.stderr)
