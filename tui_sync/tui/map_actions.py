"""The console's `m` (map an unmatched row) and `M` (unmap a mapped row): what the app's two
actions and its MappingDone handler do, kept beside the picker rather than in app.py.

The mapping and its re-pairing (mapping.py) renumber the rows after the first one they touch,
so they run in a thread worker with their own cache connection; the selection follows its rows
by key, and the cursor goes to the row the mapping made when the view shows it (else it stays
where it was: in the Unmatched view, on the next unmatched row).
"""

from __future__ import annotations

import bisect
from functools import partial
from typing import TYPE_CHECKING

from tui_sync.cache import Cache, sku_key
from tui_sync.likeness import Unmatched, unmatched_item
from tui_sync.mapping import MappingRefused, map_skus, mapping_of_item, unmap_sku
from tui_sync.model import Status
from tui_sync.sync import policy_for
from tui_sync.text import inert
from tui_sync.tui.messages import MappingDone, WorkFailed
from tui_sync.tui.screens.map_picker import ConfirmUnmap, MapPicker
from tui_sync.views import keys_at, positions_of, view_counts

if TYPE_CHECKING:
    from tui_sync.tui.app import TuiSyncApp


def pick(app: TuiSyncApp) -> None:
    """`m`: the picker of the other side's unmatched items, for the unmatched cursor row."""
    row = app.grid.current_row
    if row is None:
        return
    if app.busy:
        app.say(f"{app.busy} is running; wait for it to finish", severity="warning")
        return
    if row.status is Status.STORE_ONLY and row.store is not None:
        found = unmatched_item(app.cache, app.pair.name, "store", row.store.id)
    elif row.status is Status.BACKOFFICE_ONLY and row.backoffice is not None:
        found = unmatched_item(app.cache, app.pair.name, "backoffice", row.backoffice.id)
    else:
        app.say("m maps an unmatched row (Store only or Back office only: view 7)")
        return
    if found is None:
        return
    app.push_screen(MapPicker(app.data_dir, app.pair.name, found), partial(_chosen, app, found))


def _chosen(app: TuiSyncApp, item: Unmatched, choice: Unmatched | None) -> None:
    if choice is None:
        return
    store, back = (item, choice) if item.side == "store" else (choice, item)
    if app._start("Mapping"):
        app.run_worker(
            partial(_work, app, store.sku, back.sku, True, app.grid.selected_positions()),
            thread=True,
            group="mapping",
            exit_on_error=False,
        )


def confirm_unmap(app: TuiSyncApp) -> None:
    """`M`: remove the cursor row's mapping, after a confirmation."""
    row = app.grid.current_row
    if row is None:
        return
    if app.busy:
        app.say(f"{app.busy} is running; wait for it to finish", severity="warning")
        return
    mapped = None if row.store is None else mapping_of_item(app.cache, app.pair.name, row.store.id)
    if mapped is None:
        app.say("M removes a mapping; this row is not matched by one")
        return

    def answered(yes: bool | None) -> None:
        if yes and app._start("Unmapping"):
            app.run_worker(
                partial(_work, app, mapped[0], mapped[1], False, app.grid.selected_positions()),
                thread=True,
                group="mapping",
                exit_on_error=False,
            )

    app.push_screen(ConfirmUnmap(*mapped), answered)


def _work(
    app: TuiSyncApp, store_sku: str, backoffice_sku: str, make: bool, selected: list[int]
) -> None:
    data_dir, pair = app.data_dir, app.pair.name
    what = "Mapping" if make else "Unmapping"
    try:
        keys = keys_at(data_dir, pair, selected) if selected else []
        with Cache.open(data_dir) as cache:
            policy = policy_for(app.pair)
            if make:
                focus = map_skus(cache, pair, policy, store_sku, backoffice_sku)
                text = f"Mapped store SKU {store_sku} to back-office SKU {backoffice_sku}"
            else:
                unmap_sku(cache, pair, policy, store_sku)
                focus = sku_key(store_sku, "store", "")
                text = f"Unmapped store SKU {store_sku} from back-office SKU {backoffice_sku}"
            counts = view_counts(cache, pair)
        at = positions_of(data_dir, pair, [focus])
        selection = positions_of(data_dir, pair, keys) if keys else []
        app.post_message(MappingDone(inert(text), counts, at[0] if at else None, selection))
    except MappingRefused as exc:
        app.post_message(WorkFailed(what, str(exc)))
    except Exception as exc:  # one line to the user, as every worker does
        app.post_message(WorkFailed(what, str(exc).strip().splitlines()[0] or type(exc).__name__))


def done(app: TuiSyncApp, message: MappingDone) -> None:
    app._take_counts(message.counts)
    app.grid.set_selection(message.selection)
    app._load_view(keep_cursor=True)
    source = app.grid.source
    if message.focus is not None and source is not None:
        positions = source.positions()
        index = bisect.bisect_left(positions, message.focus)
        if index < len(positions) and positions[index] == message.focus:
            app.grid.cursor_row = index
    app._finish(message.text)
    app.say(message.text)
    app._update_bars()
