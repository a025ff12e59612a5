"""The commands of DESIGN.md section 2. Thin: parse, call the core, print.

Exit codes: 0 ok (rows refused by a sync rule are listed, not a failure); 1 something failed and
is reported (a conflict, a failed or unsettled write, a busy pair or cache, a plan a guard
refused or one that is not the plan shown); 2 bad usage or bad config, with one line naming the
key or flag. What is printed is formatted in `report`; `auto` and the guards' flags in `cli_auto`.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NoReturn, TextIO

from tui_sync import (
    cli_auto,
    cli_connections,
    cli_ignore,
    cli_keys,
    cli_map,
    cli_plan,
    journal,
    report,
)
from tui_sync.cache import Cache, CacheError
from tui_sync.config import (
    Config,
    ConfigError,
    PairConfig,
    default_config_path,
    default_data_dir,
    load_config,
)
from tui_sync.connectors.base import ConnectorError
from tui_sync.lock import PairBusy
from tui_sync.model import SIDES, Plan, Row, Side, Status, side_label
from tui_sync.refresh import refresh
from tui_sync.sandbox import state as sandbox_state
from tui_sync.sandbox.pair import uses_sandbox
from tui_sync.sandbox.state import SandboxStateError, ensure_sandbox
from tui_sync.sync import (
    NothingToDo,
    SyncError,
    Unsettled,
    apply,
    parse_fields,
    plan,
    plan_undo,
    settle_unknown,
    store_buffer,
)
from tui_sync.text import inert
from tui_sync.views import iter_rows

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_PIPE = 141  # 128 + SIGPIPE, as a shell reports `yes | head`

CSV_HELP = (
    "CSV for a spreadsheet: a text cell that would start a formula (=, +, -, @, tab, CR) is "
    "prefixed with ' (OWASP), control characters are made visible; quantities, prices and "
    "costs stay plain numbers"
)


class UsageError(Exception):
    """Bad flags: exit 2 with the message."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"tui-sync: {message}\n")


def _parser() -> argparse.ArgumentParser:
    # Global flags are accepted before or after the command; SUPPRESS keeps a subcommand's
    # missing flag from overwriting one given before the command.
    common = _Parser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--config", type=Path, help="config file (env TUI_SYNC_CONFIG)")
    common.add_argument("--data-dir", type=Path, help="cache and audit log (env TUI_SYNC_HOME)")
    pair = _Parser(add_help=False)
    pair.add_argument("--pair", help="pair name (may be left out with one configured pair)")

    parser = _Parser(
        prog="tui-sync",
        description="Keep quantity, price and cost of a store and its back office the same.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"tui-sync {_version()}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    demo = sub.add_parser("demo", parents=[common], help="the console on the built-in sandbox")
    demo.add_argument("--size", type=int, help="SKUs in the sandbox catalog (default 2000)")
    demo.add_argument("--reset", action="store_true", help="regenerate the sandbox")
    sandbox = sub.add_parser(
        "sandbox", parents=[common], help="prepare the built-in sandbox without the console"
    )
    sandbox.add_argument("--size", type=int, help="SKUs in the sandbox catalog (default 2000)")
    sandbox.add_argument("--reset", action="store_true", help="regenerate the sandbox")
    sub.add_parser("open", parents=[common, pair], help="the console on a configured pair")
    wait = _Parser(add_help=False)
    wait.add_argument(
        "--wait",
        nargs="?",
        type=float,
        const=3600.0,
        default=0.0,
        metavar="SECONDS",
        help="when another run holds the pair, wait for it (up to SECONDS, default an hour) "
        "instead of exiting 1",
    )
    refresh_cmd = sub.add_parser(
        "refresh", parents=[common, pair, wait], help="pull both sides into the cache"
    )
    refresh_cmd.add_argument(
        "--full", action="store_true", help="read everything, not only what changed"
    )
    diff = sub.add_parser("diff", parents=[common, pair], help="the grid, headless")
    diff.add_argument("--status", help="only rows of these statuses (comma separated)")
    form = diff.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="one JSON array, exact values")
    form.add_argument("--csv", action="store_true", help=CSV_HELP)
    diff.add_argument(
        "--exit-code",
        action="store_true",
        help="exit 1 when a row shown is out of sync (quantity, price or cost), for cron checks",
    )
    sync = sub.add_parser(
        "sync", parents=[common, pair, wait], help="write one side from the other"
    )
    # Required unless --plan names them (checked in _sync).
    sync.add_argument("--to", choices=["store", "backoffice"], help="the side to update")
    sync.add_argument("--fields", help="quantity,price,cost or both")
    which = sync.add_mutually_exclusive_group(required=True)
    which.add_argument("--sku", help="comma separated SKUs")
    which.add_argument("--status", help="rows of these statuses (comma separated)")
    which.add_argument("--all", action="store_true", help="every row")
    cli_plan.add_flag(which)
    sync.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    sync.add_argument(
        "--yes",
        action="store_true",
        help="allow updating the master side (and, with --allow-mass-change, a guarded plan)",
    )
    cli_auto.add_sync_flags(sync)
    cli_auto.add_parser(sub, [common, pair, wait])
    cli_map.add_parser(sub, [common, pair])
    cli_ignore.add_parser(sub, [common, pair])
    cli_keys.add_parser(sub, [common])
    cli_connections.add_parser(sub, [common])
    undo = sub.add_parser("undo", parents=[common, wait], help="reverse a run")
    undo.add_argument("run_id")
    undo.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    undo.add_argument("--yes", action="store_true", help="allow updating the master side")
    log = sub.add_parser("log", parents=[common, pair], help="the audit trail")
    log.add_argument("--run", help="one run, with every change")
    log.add_argument("--json", action="store_true")
    return parser


def _version() -> str:
    try:
        return version("tui-sync")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.config = getattr(args, "config", None)
    args.data_dir = getattr(args, "data_dir", None)
    try:
        code = _run(args)
        sys.stdout.flush()  # a closed pipe shows here, while it can still be caught
        return code
    except BrokenPipeError:
        # `tui-sync diff | head`: the reader is gone, which is not an error. Point stdout at
        # /dev/null so the interpreter's own flush at exit does not print a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_PIPE
    except (ConfigError, CacheError, SyncError, UsageError, SandboxStateError) as exc:
        return _fail(exc, EXIT_USAGE)
    except NothingToDo as exc:
        return _fail(exc, EXIT_OK)
    except (ConnectorError, PairBusy, Unsettled) as exc:
        return _fail(exc, EXIT_FAILED)
    except sqlite3.OperationalError as exc:  # e.g. another tui-sync holds the cache too long
        return _fail(f"the cache is busy or unusable: {exc}", EXIT_FAILED)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _fail(error: object, code: int) -> int:
    """One line on stderr; messages can hold text from outside (a SKU, a TOML key), so inert."""
    print(f"tui-sync: {inert(' '.join(str(error).split()))}", file=sys.stderr)
    return code


def _selector(flag: str, text: str | None) -> list[str] | None:
    """The comma-separated names of a selector flag; None when the flag was not given.

    An empty or blank selector (a cron variable that came out empty) is bad usage, never "all":
    only --all says every row (DESIGN.md section 2)."""
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",")]
    if not any(parts):
        raise UsageError(f"{flag}: empty; name at least one (use --all for every row)")
    if not all(parts):
        raise UsageError(f"{flag}: an empty name in the list {text!r}")
    return parts


def _check_selectors(args: argparse.Namespace) -> None:
    """Every selector names something, checked before anything is read or written."""
    for flag in ("--sku", "--status", "--run", "--pair"):
        value = getattr(args, flag[2:], None)
        if flag in ("--run", "--pair") and value is not None and not value.strip():
            raise UsageError(f"{flag}: empty; name one")
        if flag in ("--sku", "--status"):
            _selector(flag, value)
    run_id = getattr(args, "run_id", None)
    if run_id is not None and not run_id.strip():
        raise UsageError("RUN_ID: empty; name the run to undo (see `tui-sync log`)")


def _run(args: argparse.Namespace) -> int:
    _check_selectors(args)
    config = _config(args)
    data_dir: Path = args.data_dir or default_data_dir()
    command = args.command or "open"
    if command in ("demo", "sandbox"):
        if args.size is not None and not 1 <= args.size <= 1_000_000:
            raise UsageError("--size: between 1 and 1000000")
        if command == "demo":
            _need_terminal()  # before generating anything
        made = ensure_sandbox(
            data_dir, size=args.size, reset=args.reset, progress=_generate_progress
        )
        if command == "sandbox":
            _sandbox_report(data_dir, made)
            return EXIT_OK
        return _open_tui(data_dir, config.pair("sandbox"), args.config, config)
    if command == "keys":
        return cli_keys.run_keys(config)
    if command == "undo":
        return _undo(data_dir, config, args)
    if command == "connections":
        return cli_connections.run(config, data_dir, args)
    if command == "log":
        # The audit trail of every pair (with a pair column) unless --pair names one; it reads
        # only the cache, so no connector and no sandbox is needed.
        if args.pair is not None:
            config.pair(args.pair)
        return _log(data_dir, args)
    pair = config.pair(
        cli_plan.pair_name(args) if command == "sync" else getattr(args, "pair", None)
    )
    if command == "open":
        return _open_tui(data_dir, pair, args.config, config)
    ensure_sandbox_for(data_dir, pair)
    if command == "refresh":
        _refresh(data_dir, pair, full=args.full, wait=args.wait)
        return EXIT_OK
    if command == "diff":
        return _diff(data_dir, pair, args)
    if command == "sync":
        return _sync(data_dir, pair, args)
    if command == "auto":
        return cli_auto.run_auto(data_dir, pair, args)
    if command in ("map", "unmap"):
        cli_map.check_usage(args)
        _ensure_refreshed(data_dir, pair).close()  # a mapping names items of the cache
        return cli_map.run(data_dir, pair, args)
    if command in ("ignore", "unignore"):
        return cli_ignore.run(data_dir, pair, args, _ensure_refreshed)
    raise UsageError(f"unknown command {command!r}")


def ensure_sandbox_for(data_dir: Path, pair: PairConfig) -> None:
    """A first use of the sandbox generates its catalog: with progress on stderr here, not
    silently inside a connector."""
    if uses_sandbox(pair):
        ensure_sandbox(data_dir, progress=_generate_progress)


def _config(args: argparse.Namespace) -> Config:
    """A `--config` path must exist: a typo there must not quietly mean "no pairs". The
    default path, or TUI_SYNC_CONFIG (set once in a profile, often before the file is
    written), may be missing: then only the sandbox pair exists."""
    if args.config is None:
        return load_config(default_config_path())
    if not args.config.exists():
        raise UsageError(f"--config {args.config}: no such config file")
    return load_config(args.config, required=True)


def _generate_progress(done: int, total: int) -> None:
    _progress("Generating the sandbox", done, total)


def _sandbox_report(data_dir: Path, made: bool) -> None:
    path = sandbox_state.sandbox_dir(data_dir)
    meta = sandbox_state.info(data_dir) or {}
    size = int(str(meta.get("size", 0)))
    what = "generated" if made else "kept the existing"
    created = inert(str(meta.get("created", "?")))
    print(f"sandbox: {what} {size:,}-SKU catalog at {inert(str(path))} (created {created})")
    if made:  # the cache still holds what the previous catalog had
        print("sandbox: run `tui-sync refresh --pair sandbox` to read it into the cache")


def _need_terminal() -> None:
    """The console takes over a terminal; without one (cron, a pipe) it would spin forever."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "the console needs a terminal (stdin and stdout); in scripts use refresh, diff, "
            "sync, undo or log"
        )


def _open_tui(
    data_dir: Path, pair: PairConfig, config_path: Path | None = None, config: Config | None = None
) -> int:
    from tui_sync.connectors import capabilities, check_pair

    # A connector that cannot be opened is one line here, before the console starts, not a
    # traceback from inside it. The sandbox's are opened after the terminal check: a first use
    # generates its catalog, which is not worth doing for a console that cannot start.
    for side in SIDES:
        connection = pair.store if side == "store" else pair.backoffice
        capabilities(connection, side)  # an unknown or unavailable kind says so here
    _need_terminal()
    ensure_sandbox_for(data_dir, pair)
    check_pair(data_dir, pair)
    Cache.open(data_dir).close()  # a bad cache too
    from tui_sync.tui.app import TuiSyncApp  # textual only loads for the console itself

    app = TuiSyncApp(
        data_dir=data_dir,
        pair=pair,
        config_path=config_path,
        keys=config.keys if config else None,
        theme=config.theme if config else None,
    )
    app.run()
    if app.failure is not None:  # a known error closed it: one line, no traceback
        print(f"tui-sync: {app.failure}", file=sys.stderr)
        return app.return_code or EXIT_FAILED
    if app.return_code:  # Textual has shown the error; the exit code must say it too
        print(
            f"tui-sync: the console stopped on an error (exit code {app.return_code})",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def _progress(phase: str, done: int, total: int | None) -> None:
    """Progress on stderr: a line redrawn in place on a terminal, one line per phase in a log."""
    if sys.stderr.isatty() and total:
        end = "\n" if done >= total else ""
        print(f"\r{phase}: {done:,}/{total:,}", end=end, file=sys.stderr, flush=True)
    elif total and done >= total:
        print(f"{phase}: {done:,}", file=sys.stderr)
    elif not total and done == 0:
        print(f"{phase}…", file=sys.stderr)


def _refresh(
    data_dir: Path,
    pair: PairConfig,
    out: TextIO = sys.stdout,
    full: bool = False,
    wait: float = 0.0,
) -> None:
    summary = refresh(data_dir, pair, _progress, full=full, wait=wait)
    how = "full" if summary.full else f"incremental, {summary.read:,} changed"
    print(
        f"{inert(pair.name)}: {summary.store_items:,} store items, "
        f"{summary.backoffice_items:,} back-office items, {summary.pending_lines:,} pending "
        f"order lines -> {summary.rows:,} rows ({how})",
        file=out,
    )
    if summary.recovered.total:
        r = summary.recovered
        print(
            f"settled {r.total:,} write(s) an interrupted run left unknown: {r.done} done, "
            f"{r.not_applied} not applied, {r.conflict} conflict(s), {r.unknown} still unknown",
            file=out,
        )


def _ensure_refreshed(data_dir: Path, pair: PairConfig) -> Cache:
    """Headless commands read the cache; a pair never refreshed is refreshed first."""
    cache = Cache.open(data_dir)
    if cache.refresh_info(pair.name) is None:
        _refresh(data_dir, pair, out=sys.stderr)  # stdout stays the command's own output
    return cache


def _statuses(text: str | None) -> list[str]:
    found = _selector("--status", text)
    if found is None:
        return []
    known = {s.value for s in Status}
    for status in found:
        if status not in known:
            raise UsageError(
                f"--status: unknown status {inert(status)!r} ({', '.join(sorted(known))})"
            )
    return found


def _diff(data_dir: Path, pair: PairConfig, args: argparse.Namespace) -> int:
    statuses = _statuses(args.status)
    out = sys.stdout
    out_of_sync = False

    def watched(rows: Iterable[Row]) -> Iterator[Row]:
        nonlocal out_of_sync
        for row in rows:
            out_of_sync = out_of_sync or row.is_out_of_sync
            yield row

    buffer = store_buffer(pair)
    with _ensure_refreshed(data_dir, pair) as cache:
        rows = watched(iter_rows(cache, pair.name, statuses=statuses))
        if args.json:
            report.diff_json(rows, out, buffer)
        elif args.csv:
            report.diff_csv(rows, out)
        else:
            report.diff_table(rows, report.cache_sku_width(cache, pair.name, statuses), out)
    return EXIT_FAILED if args.exit_code and out_of_sync else EXIT_OK


def _print(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)


def _master_note(pair: PairConfig, target: Side, yes: bool) -> None:
    if target == pair.master and not yes:
        print(
            f"note: the {side_label(target)} is the master of pair {inert(pair.name)!r}; "
            "the real run will need --yes"
        )


def _check_master(pair: PairConfig, target: Side, yes: bool) -> None:
    if target == pair.master and not yes:
        raise UsageError(
            f"--to {target}: the {side_label(target)} is the master of pair "
            f"{inert(pair.name)!r}; add --yes to update it anyway"
        )


def _nothing_to_write(the_plan: Plan) -> None:
    print(f"nothing to write: {the_plan.unchanged} already equal, {len(the_plan.refusals)} refused")


def _sync(data_dir: Path, pair: PairConfig, args: argparse.Namespace) -> int:
    saved = cli_plan.saved(args) if args.plan is not None else None
    if saved is not None:
        fields, target, skus = saved.fields, saved.target, cli_plan.skus(saved)
    else:
        for flag in ("to", "fields"):
            if getattr(args, flag) is None:
                raise UsageError(f"--{flag}: required (or --plan FILE)")
        fields = parse_fields(args.fields)
        target = "store" if args.to == "store" else "backoffice"
        skus = _selector("--sku", args.sku) or []
    if not args.dry_run:
        _check_master(pair, target, args.yes)
    statuses = _statuses(args.status)
    if not (skus or statuses or args.all or saved):  # never fall back to "all"
        raise UsageError("name the rows: --sku, --status or --all")
    from tui_sync.connectors import capabilities

    with _ensure_refreshed(data_dir, pair) as cache:
        if saved is not None:
            rows = list(cli_plan.rows_of(cache, pair.name, skus))
        else:
            rows = list(iter_rows(cache, pair.name, statuses=statuses, skus=skus))
    missing = sorted({s.upper() for s in skus} - {r.sku.upper() for r in rows})
    source = pair.store if target == "backoffice" else pair.backoffice
    the_plan = plan(
        pair,
        rows,
        target,
        fields,
        capabilities(pair.store if target == "store" else pair.backoffice, target),
        capabilities(source, "backoffice" if target == "store" else "store"),
    )
    for sku in missing:
        print(f"  unknown SKU {inert(sku)} (not in the cache; refresh?)", file=sys.stderr)
    # A SKU asked for by name and not found is a failure; rule refusals are not (section 2).
    code = EXIT_FAILED if missing else EXIT_OK
    _print(report.plan_lines(the_plan))
    if saved is not None and (changed := cli_plan.still_holds(args.plan, saved, the_plan)):
        return changed
    refused = cli_auto.check_sync(data_dir, pair, the_plan, args)
    if refused is not None:
        return refused
    if the_plan.is_empty:
        _nothing_to_write(the_plan)  # and no run is recorded: nothing was attempted
        return code
    if args.dry_run:
        _master_note(pair, target, args.yes)
        return code
    applied = apply(data_dir, pair, the_plan, kind="sync", wait=args.wait)
    return max(code, _report(applied.run))


def _report(run: journal.Run) -> int:
    _print(report.run_lines(run))
    # Refusals are listed but are not failures; conflicts, failures and unsettled writes are.
    bad = any(e.result in ("conflict", "failed", "unknown") for e in run.changes)
    return EXIT_FAILED if bad else EXIT_OK


def _undo(data_dir: Path, config: Config, args: argparse.Namespace) -> int:
    run_id = args.run_id.strip()
    with Cache.open(data_dir) as cache:
        found = journal.runs(cache, run_id=run_id)
        if not found:
            raise SyncError(f"unknown run {inert(run_id)!r} (see `tui-sync log`)")
        pair = config.pair(found[0].pair)
        unsettled = found[0].count("unknown")
    if unsettled and not args.dry_run:
        # What the run's process never settled is read back first; undo plans on the truth.
        settle_unknown(data_dir, pair, wait=args.wait)
    with Cache.open(data_dir) as cache:
        the_plan = plan_undo(cache, pair, run_id)
    if not args.dry_run:
        _check_master(pair, the_plan.target, args.yes)
    _print(report.plan_lines(the_plan))
    if the_plan.is_empty:
        _nothing_to_write(the_plan)
        return EXIT_OK
    if args.dry_run:
        _master_note(pair, the_plan.target, args.yes)
        return EXIT_OK
    applied = apply(data_dir, pair, the_plan, kind="undo", undoes=run_id, wait=args.wait)
    return _report(applied.run)


def _log(data_dir: Path, args: argparse.Namespace) -> int:
    run_id = None if args.run is None else args.run.strip()
    with Cache.open(data_dir) as cache:
        found = journal.runs(cache, pair=args.pair, run_id=run_id)
    if run_id and not found:
        raise UsageError(f"--run: unknown run {inert(run_id)!r}")
    if args.json:
        print(json.dumps([run.as_json() for run in found], indent=2))  # escapes, as in diff
        return EXIT_OK
    if not found:
        print("no runs yet")
        return EXIT_OK
    _print(report.log_lines(found, changes=bool(run_id)))
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
