"""The console's background work, in a process of its own.

The console never refreshes or syncs in its own process: a refresh's Python work would take the
GIL from the UI (cursor keys got 2x slower while one ran). It starts this module instead, which
calls the same core functions the CLI calls and reports on stdout, one JSON object a line:

    {"progress": ["Reading the store", 1200, 2441]}
    {"done": {...}}          the summary (refresh), the run id (sync), the tick's result (auto)
    {"error": "one line"}    never a traceback, never a secret; with "side" and "state" when
                             one side's connection failed ("store", "auth failed (401): ...")

SIGTERM or SIGINT stop it: a refresh at once (nothing is swapped in), a sync after the batch in
flight, with its journal settled. Progress is coalesced to about ten lines a second.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tui_sync import plan_io
from tui_sync.config import PairConfig, load_config
from tui_sync.connectors.failure import side_failure

PROGRESS_EVERY_S = 0.1


def _say(record: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


class _Reporter:
    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, label: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        finished = total is not None and done >= total
        if finished or now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            _say({"progress": [label, done, total]})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui_sync.child")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--pair", required=True)
    parser.add_argument("work", choices=["refresh", "sync", "undo", "auto"])
    parser.add_argument("--plan", type=Path, help="the plan to apply (sync, undo)")
    parser.add_argument("--undoes", help="the run an undo reverses")
    args = parser.parse_args(argv)
    report = _Reporter()
    pair: PairConfig | None = None
    try:
        pair = load_config(args.config).pair(args.pair)
        if args.work == "refresh":
            from tui_sync.refresh import refresh

            summary = refresh(args.data_dir, pair, report)
            _say(
                {
                    "done": {
                        "store_items": summary.store_items,
                        "backoffice_items": summary.backoffice_items,
                        "pending_lines": summary.pending_lines,
                        "rows": summary.rows,
                        "full": summary.full,
                        "rescored_only": summary.rescored_only,
                        "recovered": summary.recovered.total,
                    }
                }
            )
        elif args.work == "auto":
            _auto(args.data_dir, pair)
        else:
            from tui_sync.sync import apply

            if args.plan is None:
                raise plan_io.PlanFileError("--plan is required")
            the_plan = plan_io.read(args.plan)
            if the_plan.pair != pair.name:
                raise plan_io.PlanFileError(f"the plan is for pair {the_plan.pair!r}")
            applied = apply(
                args.data_dir,
                pair,
                the_plan,
                lambda done, total: report("Syncing", done, total),
                kind=args.work,
                undoes=args.undoes,
            )
            _say({"done": {"run_id": applied.run.run_id}})
    except KeyboardInterrupt:
        _say({"error": "stopped"})
        return 130
    except Exception as exc:  # the console shows one line; the journal holds the detail
        lines = str(exc).strip().splitlines()
        record: dict[str, object] = {"error": lines[0] if lines else type(exc).__name__}
        failed = None if pair is None else side_failure(pair, exc)
        if failed is not None:  # which side failed, for the console's title and status
            record.update(side=failed.side, state=failed.state)
        _say(record)
        return 1
    return 0


def _auto(data_dir: Path, pair: PairConfig) -> None:
    """One tick of `auto --once`: under the pair lock (busy: a failed tick, said in its line),
    recorded as the pair's last tick. Its log lines go to stderr: stdout is the JSON channel."""
    import asyncio

    from tui_sync.scheduler import Schedule

    result = asyncio.run(Schedule(data_dir, pair, None, sys.stderr, sys.stderr).once())
    run_id = None if result.run is None else result.run.run_id
    _say(
        {
            "done": {
                "ok": result.ok,
                "line": result.line,
                "summary": result.summary,
                "run_id": run_id,
                "guarded": result.guarded,
                "refreshed": result.plan is not None,
            }
        }
    )


if __name__ == "__main__":
    raise SystemExit(main())
