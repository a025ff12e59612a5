"""The headless commands through the real console script, on temporary --data-dir/--config."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tui_sync.sandbox import outside
from tui_sync.sandbox.state import ensure_sandbox

SCRIPT = str(Path(sys.executable).parent / "tui-sync")
SIZE = 400


@pytest.fixture
def home(tmp_path: Path) -> Path:
    ensure_sandbox(tmp_path / "data", size=SIZE)
    (tmp_path / "config.toml").write_text("")  # --config names it, so it must exist
    return tmp_path


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, "--config", str(home / "config.toml"), "--data-dir", str(home / "data"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def diff(home: Path, *args: str) -> list[dict[str, object]]:
    out = cli(home, "diff", "--pair", "sandbox", "--json", *args)
    assert out.returncode == 0, out.stderr
    rows: list[dict[str, object]] = json.loads(out.stdout)
    return rows


def test_diff_json_has_the_documented_shape_and_every_status(home: Path) -> None:
    rows = diff(home)
    assert len(rows) >= SIZE
    first = rows[0]
    assert set(first) == {
        "sku",
        "status",
        "cells",
        "store",
        "backoffice",
        "pending_quantity",
        "reasons",
    }
    assert isinstance(first["cells"], dict)
    assert list(first["cells"]) == ["N", "NS", "IV", "B", "Q", "QP", "QN", "P", "C"]
    statuses = {r["status"] for r in rows}
    assert statuses == {
        "base",
        "store_only",
        "backoffice_only",
        "duplicate_sku",
        "in_orders",
        "out_of_sync",
        "in_sync",
    }
    matched = next(r for r in rows if r["store"] and r["backoffice"] and r["status"] == "in_sync")
    assert isinstance(matched["store"]["price"], str)  # type: ignore[index]
    assert isinstance(matched["store"]["quantity"], int)  # type: ignore[index]
    only = next(r for r in rows if r["status"] == "store_only")
    assert only["backoffice"] is None
    in_sync = sum(r["status"] == "in_sync" for r in rows)
    assert in_sync > len(rows) / 2  # most rows agree, as in a real catalog


def test_diff_status_filter_and_csv(home: Path) -> None:
    out = diff(home, "--status", "out_of_sync")
    assert out and {r["status"] for r in out} == {"out_of_sync"}
    text = cli(home, "diff", "--pair", "sandbox", "--csv", "--status", "in_orders").stdout
    table = list(csv.DictReader(io.StringIO(text)))
    assert table and {r["status"] for r in table} == {"in_orders"}
    assert "QP" in table[0]


def q_rows(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [
        r
        for r in rows
        if r["status"] == "out_of_sync" and r["cells"]["Q"] == "N"  # type: ignore[index]
    ]


def test_sync_quantity_to_the_store_then_diff_and_log(home: Path) -> None:
    targets = q_rows(diff(home))[:3]
    skus = [str(r["sku"]) for r in targets]
    out = cli(
        home,
        "sync",
        "--pair",
        "sandbox",
        "--to",
        "store",
        "--fields",
        "quantity",
        "--sku",
        ",".join(skus),
    )
    assert out.returncode == 0, out.stdout + out.stderr
    run_id = out.stdout.strip().splitlines()[-1].split()[1]
    assert run_id.startswith("r-")
    after = {r["sku"]: r for r in diff(home)}
    for sku in skus:
        row = after[sku]
        assert row["cells"]["Q"] == "S"  # type: ignore[index]
        assert row["store"]["quantity"] == row["backoffice"]["quantity"]  # type: ignore[index]
    log = json.loads(cli(home, "log", "--json").stdout)
    assert log[0]["run_id"] == run_id and log[0]["state"] == "done"
    assert {c["sku"] for c in log[0]["changes"]} == set(skus)
    assert all(c["result"] == "done" and c["field"] == "quantity" for c in log[0]["changes"])
    # The remote store really holds the new values: a fresh refresh agrees.
    assert cli(home, "refresh", "--pair", "sandbox").returncode == 0
    refreshed = {r["sku"]: r for r in diff(home)}
    assert all(refreshed[s]["cells"]["Q"] == "S" for s in skus)  # type: ignore[index]


def test_dry_run_prints_the_plan_and_writes_nothing(home: Path) -> None:
    out = cli(
        home,
        "sync",
        "--pair",
        "sandbox",
        "--to",
        "store",
        "--fields",
        "both",
        "--all",
        "--dry-run",
    )
    # Some rows are refused (base, unmatched, in orders...): listed, but not a failure.
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Plan: ")
    assert "refused" in out.stdout and "base product" in out.stdout
    assert cli(home, "log").stdout.strip() == "no runs yet"


def test_updating_the_master_needs_yes(home: Path) -> None:
    sku = str(q_rows(diff(home))[0]["sku"])
    out = cli(home, "sync", "--to", "backoffice", "--fields", "quantity", "--sku", sku)
    assert out.returncode == 2
    assert "--to backoffice" in out.stderr and "--yes" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_value_changed_since_read_is_a_conflict_not_overwritten(home: Path) -> None:
    row = q_rows(diff(home))[0]
    store_id = str(row["store"]["id"])  # type: ignore[index]
    outside.set_value(home / "data", "store", store_id, "quantity", 999)
    out = cli(home, "sync", "--to", "store", "--fields", "quantity", "--sku", str(row["sku"]))
    assert out.returncode == 1
    assert "conflict" in out.stdout
    log = json.loads(cli(home, "log", "--json").stdout)
    assert log[0]["state"] == "partial"
    assert log[0]["changes"][0]["result"] == "conflict"
    cli(home, "refresh")
    again = next(r for r in diff(home) if r["sku"] == row["sku"])
    assert again["store"]["quantity"] == 999  # type: ignore[index]


def test_undo_restores_the_values(home: Path) -> None:
    row = q_rows(diff(home))[0]
    before = row["store"]["quantity"]  # type: ignore[index]
    out = cli(home, "sync", "--to", "store", "--fields", "quantity", "--sku", str(row["sku"]))
    run_id = out.stdout.strip().splitlines()[-1].split()[1]
    undo = cli(home, "undo", run_id)
    assert undo.returncode == 0, undo.stdout + undo.stderr
    again = next(r for r in diff(home) if r["sku"] == row["sku"])
    assert again["store"]["quantity"] == before  # type: ignore[index]
    kinds = [r["kind"] for r in json.loads(cli(home, "log", "--json").stdout)]
    assert kinds == ["undo", "sync"]


def test_bad_config_is_one_line_and_exit_2(home: Path) -> None:
    (home / "config.toml").write_text("[pairs.main]\nstore = 'nope'\n")
    out = cli(home, "diff")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1
    assert "pairs.main" in out.stderr


def test_unknown_pair_and_bad_flags(home: Path) -> None:
    out = cli(home, "diff", "--pair", "nowhere")
    assert out.returncode == 2 and "nowhere" in out.stderr
    out = cli(home, "diff", "--status", "lost")
    assert out.returncode == 2 and "--status" in out.stderr
    out = cli(home, "sync", "--to", "store", "--fields", "weight", "--all")
    assert out.returncode == 2 and "--fields" in out.stderr


def test_corrupt_cache_is_reported_and_kept(home: Path) -> None:
    cache = home / "data" / "cache.db"
    cache.write_bytes(b"this is not a database at all" * 100)
    out = cli(home, "diff")
    assert out.returncode == 2
    assert "corrupt" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert cache.read_bytes().startswith(b"this is not a database")


def test_newer_cache_schema_is_refused(home: Path) -> None:
    assert cli(home, "refresh").returncode == 0
    conn = sqlite3.connect(home / "data" / "cache.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    out = cli(home, "diff")
    assert out.returncode == 2 and "newer" in out.stderr
