"""Issue 10 items 2 and 3: text from the remote side reaches the terminal inert, columns stay
aligned, and `diff --csv` cannot smuggle a formula into a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from pathlib import Path

import pytest
from rich.cells import cell_len  # an independent measure of terminal cells (tests only)

from tests.cli_helpers import run, text
from tui_sync.model import Side
from tui_sync.sandbox import outside
from tui_sync.sandbox.state import ensure_sandbox

HOSTILE = {
    "osc0": "\x1b]0;pwned\x07",
    "osc52": "\x1b]52;c;aGVsbG8=\x07",
    "dcs": "\x1bP1$r\x1b\\",
    "c1csi": "\x9b31m",
    "rlo": "\u202eevil",
    "nul": "a\x00b",
    "bracket": "[bold]x",
    "close": "[/]",
    "zwj": "\U0001f469\u200d\U0001f469\u200d\U0001f467",
    "cjk": "靴下",
}
LONG_NAME = "N" * 10_000
SYNC = ("sync", "--pair", "sandbox", "--to", "store", "--fields", "price")


def assert_inert(data: bytes, csv_lines: bool = False) -> None:
    """Nothing in `data` that a terminal acts on: no C0 but newline, no C1, no bidi control."""
    shown = data.decode("utf-8")
    if csv_lines:
        shown = shown.replace("\r\n", "\n")
    bad = [
        f"U+{ord(c):04X}"
        for c in shown
        if (unicodedata.category(c) in ("Cc", "Cf") and c != "\n") or ord(c) == 0x9B
    ]
    assert bad == []
    for raw in (b"\x1b", b"\x07", b"\x00", "\u202e".encode(), "\x9b".encode()):
        assert raw not in data


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A sandbox whose out-of-sync rows carry hostile SKUs (both sides, so they still match)
    and hostile names; returns the planted SKUs by label."""
    home = tmp_path_factory.mktemp("hostile")
    (home / "config.toml").write_text("")
    ensure_sandbox(home / "data", size=1000)
    rows = json.loads(run(home, "diff", "--pair", "sandbox", "--json").stdout)
    targets = [r for r in rows if r["status"] == "out_of_sync" and r["cells"]["P"] == "N"]
    assert len(targets) > len(HOSTILE) + 1
    path = home / "data"
    planted: dict[str, str] = {}
    for (label, hostile), row in zip(HOSTILE.items(), targets, strict=False):
        sku = f"H-{label}-{hostile}-{row['sku']}"
        planted[label] = sku
        for side in ("store", "backoffice"):
            outside.set_text(path, side, row[side]["id"], "sku", sku)
            outside.set_text(path, side, row[side]["id"], "name", f"{hostile} name {label}")
    long_row = targets[len(HOSTILE)]
    outside.set_text(path, "store", long_row["store"]["id"], "name", LONG_NAME)
    long_sku = "LONG-" + "X" * 60 + "-END"
    sides: tuple[Side, ...] = ("store", "backoffice")
    for side in sides:
        outside.set_text(path, side, long_row[side]["id"], "sku", long_sku)
    planted["long"] = long_sku
    out = run(home, "refresh", "--pair", "sandbox")
    assert out.returncode == 0, text(out)
    assert_inert(out.stdout + out.stderr)
    return {"home": home, "planted": planted}


def _home(fixture: dict[str, object]) -> Path:
    home = fixture["home"]
    assert isinstance(home, Path)
    return home


def _planted(fixture: dict[str, object]) -> dict[str, str]:
    planted = fixture["planted"]
    assert isinstance(planted, dict)
    return planted


def test_diff_table_is_inert_and_aligned(home: dict[str, object]) -> None:
    out = run(_home(home), "diff", "--pair", "sandbox")
    assert out.returncode == 0, text(out)
    assert_inert(out.stdout + out.stderr)
    lines = out.stdout.decode().splitlines()
    # Every line puts STATUS and the numbers at the same terminal cell, whatever its SKU.
    header = lines[0]
    status_at = cell_len(header[: header.index("STATUS")])
    for line in lines[1:]:
        # The status label follows the SKU column: find it by cells, not characters.
        width = 0
        for i, char in enumerate(line):
            if width == status_at:
                assert line[i - 1] == " " and line[i] != " ", line
                break
            width += cell_len(char)
        else:
            raise AssertionError(line)
    shown = "\n".join(lines)
    assert "␛]0;pwned" in shown and "\\x9b31m" in shown and "<U+202E>evil" in shown
    assert "[bold]x" in shown and "[/]" in shown and "靴下" in shown
    # A SKU longer than the column is shortened in the middle: both ends readable.
    long_line = next(line for line in lines if line.startswith("LONG-"))
    assert "…" in long_line.split()[0] and long_line.split()[0].endswith("-END")


def test_diff_json_keeps_exact_data_and_escapes_it(home: dict[str, object]) -> None:
    out = run(_home(home), "diff", "--pair", "sandbox", "--json")
    assert out.returncode == 0
    assert_inert(out.stdout)
    assert out.stdout.isascii()  # json.dumps' ensure_ascii: even bidi and C1 are \\u escapes
    skus = {r["sku"] for r in json.loads(out.stdout)}
    assert set(_planted(home).values()) <= skus  # exact, not made visible
    names = {r["store"]["name"] for r in json.loads(out.stdout) if r["store"]}
    assert LONG_NAME in names


def test_sync_plan_report_and_log_are_inert(home: dict[str, object]) -> None:
    skus = ",".join(_planted(home)[k] for k in ("osc0", "c1csi", "rlo", "cjk", "zwj", "long"))
    dry = run(_home(home), *SYNC, "--sku", skus, "--dry-run")
    assert dry.returncode == 0, text(dry)
    assert_inert(dry.stdout + dry.stderr)
    writes = [line for line in dry.stdout.decode().splitlines() if line.startswith("  write")]
    assert len(writes) == 6
    # The field column starts at the same cell on every plan line.
    columns = {cell_len(line[: line.index(" price ")]) for line in writes}
    assert len(columns) == 1, writes
    out = run(_home(home), *SYNC, "--sku", skus)
    assert out.returncode == 0, text(out)
    assert_inert(out.stdout + out.stderr)
    run_id = out.stdout.decode().strip().splitlines()[-1].split()[1]
    for args in (("log",), ("log", "--run", run_id), ("log", "--json")):
        log = run(_home(home), *args)
        assert log.returncode == 0, text(log)
        assert_inert(log.stdout + log.stderr)
    detail = run(_home(home), "log", "--run", run_id).stdout.decode()
    assert "␛]0;pwned" in detail and "<U+202E>evil" in detail


def test_unknown_hostile_sku_is_echoed_inert(home: dict[str, object]) -> None:
    out = run(_home(home), *SYNC, "--sku", "NOPE\x1b]52;c;aGk=\x07", "--dry-run")
    assert_inert(out.stdout + out.stderr)
    assert "unknown SKU NOPE␛]52" in out.stderr.decode()
    out = run(_home(home), "diff", "--status", "in_sync\x1b]0;x\x07")
    assert out.returncode == 2
    assert_inert(out.stderr)


def test_csv_neutralises_formulas_and_keeps_numbers(home: dict[str, object]) -> None:
    path = _home(home) / "data"
    fixture = _home(home)
    rows = json.loads(run(fixture, "diff", "--pair", "sandbox", "--json").stdout)
    matched = [r for r in rows if r["status"] == "in_sync" and r["store"] and r["backoffice"]]
    formulas = ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]
    for formula, row in zip(formulas, matched, strict=False):
        outside.set_text(path, "store", row["store"]["id"], "name", formula)
    negative = matched[len(formulas)]
    outside.set_value(path, "backoffice", negative["backoffice"]["id"], "quantity", -7)
    assert run(fixture, "refresh").returncode == 0
    out = run(fixture, "diff", "--pair", "sandbox", "--csv")
    assert out.returncode == 0
    assert_inert(out.stdout, csv_lines=True)
    table = list(csv.DictReader(io.StringIO(out.stdout.decode(), newline="")))
    for cell in (r[key] for r in table for key in ("sku", "name")):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    names = {r["name"] for r in table}
    assert '\'=HYPERLINK("http://x","y")' in names and "'-2+3" in names and "'@SUM(A1)" in names
    row = next(r for r in table if r["sku"] == negative["sku"])
    assert row["backoffice_quantity"] == "-7"  # a number stays a number
    help_text = run(fixture, "diff", "--help").stdout.decode()
    assert "formula" in help_text and "OWASP" in help_text
