"""Property: a field marked as an intended difference is never written, by a `sync --all` to
either side with any fields, or by an `auto --once` under any policy; on small generated
sandboxes, with marks on fields that really differ (a sync would write them unmarked)."""

from __future__ import annotations

import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.writekit import remote_items
from tui_sync import intended
from tui_sync.cache import Cache
from tui_sync.cli import main
from tui_sync.config import load_config
from tui_sync.model import FIELD_CODES, FIELDS, Field, Side, other_side
from tui_sync.refresh import refresh
from tui_sync.sandbox.state import FOLDER
from tui_sync.views import iter_rows

SETTINGS = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def home(template: Path, scratch: Path, master: Side, fields: list[Field]) -> Path:
    root = scratch / f"h{len(list(scratch.iterdir()))}"
    (root / "data").mkdir(parents=True)
    shutil.copytree(template, root / "data" / FOLDER)
    listed = ", ".join(f'"{f}"' for f in fields)
    (root / "config.toml").write_text(
        '[connections.s]\nkind = "sandbox"\nside = "store"\n'
        '[connections.b]\nkind = "sandbox"\nside = "backoffice"\n'
        f'[pairs.main]\nstore = "s"\nbackoffice = "b"\nmaster = "{master}"\n'
        f"fields = [{listed}]\n"
    )
    return root


MARKS = st.lists(st.tuples(st.integers(0, 10_000), st.booleans()), min_size=1, max_size=8)


@SETTINGS
@given(
    master=st.sampled_from(("store", "backoffice")),
    fields=st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True),
    marks=MARKS,
    how=st.sampled_from(("sync", "auto")),
)
def test_a_marked_field_is_never_written(
    template: Path,
    scratch: Path,
    master: Side,
    fields: list[Field],
    marks: list[tuple[int, bool]],
    how: str,
) -> None:
    root = home(template, scratch, master, fields)
    data, config = root / "data", root / "config.toml"
    pair = load_config(config).pair("main")
    refresh(data, pair)
    with Cache.open(data) as cache:
        # Fields that differ on matched rows: what a sync would write were they not marked.
        candidates = [
            (row, name)
            for row in iter_rows(cache, "main", statuses=["out_of_sync"])
            for name, codes in FIELD_CODES.items()
            if any(row.cells[c] == "N" for c in codes)
        ]
        assert candidates
        protected: set[tuple[str, str, Field]] = set()  # (side, item id, field) never written
        for index, whole in marks:
            row, name = candidates[index % len(candidates)]
            intended.mark(cache, pair, row.sku, None if whole else name, "on purpose")
            for side in ("store", "backoffice"):
                item = row.side(side)
                assert item is not None
                for covered in FIELDS if whole else (name,):
                    protected.add((side, item.id, covered))
    before = remote_items(data)
    base = ["--config", str(config), "--data-dir", str(data)]
    if how == "sync":
        target = other_side(master)
        sync = ["sync", "--to", target, "--fields", ",".join(fields), "--all"]
        code = main([*base, *sync, "--yes", "--allow-mass-change"])
    else:
        code = main([*base, "auto", "--once"])
    assert code in (0, 1)  # 1: a conflict or a guard; neither may write a marked field
    after = remote_items(data)
    for side, item_id, name in protected:
        k = FIELDS.index(name)
        assert after[(side, item_id)][k] == before[(side, item_id)][k], (side, item_id, name)
