"""`tui-sync map`, `unmap`, `map --list`, `map --import` and `map --suggest`, as a user runs them:
through `cli.main`, on the sandbox pair, reading what is printed and what `diff` shows after."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tui_sync.cache import Cache
from tui_sync.cli import main
from tui_sync.config import SANDBOX_PAIR
from tui_sync.model import Item
from tui_sync.reconcile import reconcile
from tui_sync.sync import policy_for

# Unmatched rows of the 400-SKU sandbox (tests/conftest.py).
STORE_ONLY = ("PILW-0172", "RAIN-0070", "TAPE-0005")
BACK_ONLY = ("HOOD-0054", "HOOD-0167", "SKT-0006")


def cli(data_dir: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--data-dir", str(data_dir), *args])
    out, err = capsys.readouterr()
    return code, out, err


def diff(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, object]]:
    code, out, _ = cli(data_dir, capsys, "diff", "--json")
    assert code == 0
    return {str(r["sku"]): r for r in json.loads(out)}


def test_map_pairs_two_unmatched_items_and_unmap_parts_them(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = diff(data_dir, capsys)
    assert before["PILW-0172"]["status"] == "store_only"
    assert before["HOOD-0054"]["status"] == "backoffice_only"
    code, out, _ = cli(data_dir, capsys, "map", "pilw-0172", "HOOD-0054")
    assert code == 0
    assert "mapped store SKU pilw-0172 to back-office SKU HOOD-0054" in out
    rows = diff(data_dir, capsys)
    assert "HOOD-0054" not in rows and len(rows) == len(before) - 1
    mapped = rows["PILW-0172"]
    assert mapped["status"] not in ("store_only", "backoffice_only")
    assert mapped["store"] == before["PILW-0172"]["store"]
    assert mapped["backoffice"] == before["HOOD-0054"]["backoffice"]
    assert f"the row is now {mapped['status']}" in out

    code, out, _ = cli(data_dir, capsys, "map", "--list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert listed == [
        {"store_sku": "PILW-0172", "backoffice_sku": "HOOD-0054", "status": mapped["status"]}
    ]
    code, out, _ = cli(data_dir, capsys, "map", "--list")
    assert code == 0 and "PILW-0172  HOOD-0054  " in out

    # a refresh keeps it: the mapping is the cache's, not the rows'
    assert cli(data_dir, capsys, "refresh", "--full")[0] == 0
    assert diff(data_dir, capsys)["PILW-0172"]["backoffice"] == mapped["backoffice"]

    code, out, _ = cli(data_dir, capsys, "unmap", "PILW-0172")
    assert code == 0 and "was mapped to HOOD-0054" in out
    assert diff(data_dir, capsys) == before
    code, out, _ = cli(data_dir, capsys, "map", "--list")
    assert "no mappings for pair sandbox" in out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("NOPE-1", "HOOD-0054"), "unknown store SKU 'NOPE-1'"),
        (("PILW-0172", "NOPE-2"), "unknown back office SKU 'NOPE-2'"),
        (("PILW-0172", "BEAN-0071"), "already matches"),
    ],
)
def test_map_refuses_in_one_line_and_changes_nothing(
    data_dir: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, str], says: str
) -> None:
    before = diff(data_dir, capsys)
    code, out, err = cli(data_dir, capsys, "map", *args)
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and says in err
    assert diff(data_dir, capsys) == before


def test_unmap_of_an_unmapped_sku_and_bad_usage(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(data_dir, capsys, "unmap", "PILW-0172")
    assert code == 1 and "is not mapped" in err
    for args in (("map",), ("map", "A"), ("map", "A", "B", "--list"), ("map", "--list", "--yes")):
        code, _, err = cli(data_dir, capsys, *args)
        assert code == 2 and len(err.strip().splitlines()) == 1, args


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_import_is_a_dry_run_until_yes_and_names_each_refused_line(
    data_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sheet = write_csv(
        tmp_path / "map.csv",
        "store sku,back office sku\n"
        "PILW-0172,HOOD-0054\n"  # 2: fine
        "RAIN-0070,HOOD-0054\n"  # 3: the same back-office SKU again
        "TAPE-0005,NOPE-9\n"  # 4: unknown
        "PILW-0172,SKT-0006\n"  # 5: the same store SKU again
        "TAPE-0005,HOOD-0167,extra\n"  # 6: a bad line
        "\x1b[31mRED,SKT-0006\n"  # 7: hostile, and unknown
        "RAIN-0070,SKT-0006\n",  # 8: fine
    )
    before = diff(data_dir, capsys)
    code, out, _ = cli(data_dir, capsys, "map", "--import", str(sheet))
    assert code == 1  # something was refused
    assert diff(data_dir, capsys) == before  # the dry run mapped nothing
    name = str(sheet)
    assert f"would map PILW-0172 -> HOOD-0054 ({name}:2)" in out
    assert f"would map RAIN-0070 -> SKT-0006 ({name}:8)" in out
    assert f"refused {name}:3: RAIN-0070 -> HOOD-0054: would create a duplicate" in out
    assert f"refused {name}:4: TAPE-0005 -> NOPE-9: unknown back office SKU" in out
    assert f"refused {name}:5: PILW-0172 -> SKT-0006: already mapped by line 2" in out
    assert f"refused {name}:6: bad line: expected 2 columns, found 3" in out
    assert f"refused {name}:7: ␛[31mRED -> SKT-0006: unknown store SKU" in out
    assert "\x1b" not in out
    assert "dry run: nothing mapped; 2 would be mapped, 5 refused. Add --yes" in out

    code, out, _ = cli(data_dir, capsys, "map", "--import", str(sheet), "--yes")
    assert code == 1
    assert f"mapped PILW-0172 -> HOOD-0054 ({name}:2)" in out
    assert "2 mapped, 5 refused" in out
    rows = diff(data_dir, capsys)
    assert len(rows) == len(before) - 2
    assert rows["PILW-0172"]["backoffice"] == before["HOOD-0054"]["backoffice"]
    assert rows["RAIN-0070"]["backoffice"] == before["SKT-0006"]["backoffice"]


def test_import_of_a_file_that_is_not_two_columns_is_bad_usage(
    data_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sheet = write_csv(tmp_path / "wide.csv", "a,b,c\nPILW-0172,HOOD-0054,x\n")
    code, out, err = cli(data_dir, capsys, "map", "--import", str(sheet), "--yes")
    assert code == 2 and out == ""
    assert f"{sheet}:1: the header needs two columns" in err
    code, _, err = cli(data_dir, capsys, "map", "--import", str(tmp_path / "missing.csv"))
    assert code == 2 and "missing.csv" in err


def test_suggest_ranks_the_look_alike_first(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(data_dir, capsys, "refresh")[0] == 0
    with Cache.open(data_dir) as cache:
        back = cache.conn.execute(
            "SELECT name, brand, price FROM items WHERE pair = 'sandbox' AND side = 'backoffice' "
            "AND sku = 'HOOD-0054'"
        ).fetchone()
        # A store item typed with a letter O for the zero, same name, brand and price.
        twin = Item(
            id="twin",
            sku="HOOD-OO54",
            name=back[0],
            brand=back[1],
            quantity=1,
            price=Decimal(back[2]),
        )
        with cache.transaction():
            cache.stage("sandbox", "store", [twin])
            cache.swap_in("sandbox", "store", full=False)
            reconcile(cache, "sandbox", policy_for(SANDBOX_PAIR))
    code, out, _ = cli(data_dir, capsys, "map", "--suggest", "--json", "--limit", "3")
    assert code == 0
    found = json.loads(out)
    assert 1 <= len(found) <= 3
    best = found[0]
    assert (best["store_sku"], best["backoffice_sku"]) == ("HOOD-OO54", "HOOD-0054")
    assert best["score"] >= 80  # 2 SKU edits, same name and price (QuickBooks keeps no brand)
    assert "SKU 2 edits apart" in best["why"] and "same name" in best["why"]
    assert any(w.startswith("same price") for w in best["why"])
    code, out, _ = cli(data_dir, capsys, "map", "--suggest")
    assert code == 0 and out.splitlines()[0].endswith(
        "HOOD-OO54 -> HOOD-0054  (" + ", ".join(best["why"]) + ")"
    )
