"""The console: wires the grid, the bars, the screens, the bindings and the workers.

It reads rows from the cache (main thread, one connection) and never talks to a connector: refresh
and sync run in thread workers (workers.py) that post messages handled here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal
from textual.notifications import SeverityLevel
from textual.timer import Timer
from textual.widgets import Checkbox, Footer, Input, Label, ProgressBar, Static

from tui_sync import breakdown
from tui_sync.cache import Cache
from tui_sync.config import PairConfig
from tui_sync.connectors import capabilities
from tui_sync.model import Capabilities, Field, Plan, Side
from tui_sync.scheduler import guard_reasons
from tui_sync.text import inert
from tui_sync.tui import actions, workers
from tui_sync.tui.checkbox import TextCheckbox
from tui_sync.tui.grid import DiscrepancyGrid
from tui_sync.tui.messages import (
    CountsReady,
    LongestSku,
    OrderReady,
    Progress,
    RefreshDone,
    RowsToSelect,
    SkuFound,
    SyncDone,
    WorkFailed,
)
from tui_sync.tui.screens.help import HelpScreen
from tui_sync.tui.screens.row_detail import RowDetailScreen
from tui_sync.tui.screens.run_log import RunLogScreen
from tui_sync.tui.screens.sync_dialog import Scope, SyncDialog
from tui_sync.tui.screens.triage import BreakdownScreen, GotoScreen, OfferAllScreen, SortScreen
from tui_sync.tui.selected_rows import SELECTED_VIEW
from tui_sync.tui.view_bar import ViewBar
from tui_sync.views import (
    SKU_ORDER,
    VIEW_BY_KEY,
    VIEWS,
    Narrowing,
    Sort,
    View,
    ViewRows,
    index_in,
    positions_of,
    stream_rows,
    view_counts,
    view_order,
)

# The sync dialog's fields follow the view it was opened from.
VIEW_FIELDS: dict[str, tuple[Field, ...]] = {"quantity": ("quantity",), "price": ("price",)}


class ActionCommands(Provider):
    """Every action of the registry in the command palette, listed as soon as it opens."""

    async def discover(self) -> Hits:
        app = self.app
        assert isinstance(app, TuiSyncApp)
        for action in actions.ACTIONS:
            yield DiscoveryHit(
                action.help,
                partial(app.run_action, action.action),
                help=f"key: {actions.key_label(action)}",
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        app = self.app
        assert isinstance(app, TuiSyncApp)
        for action in actions.ACTIONS:
            score = matcher.match(action.help)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(action.help),
                    partial(app.run_action, action.action),
                    help=f"key: {actions.key_label(action)}",
                )


class TuiSyncApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "tui-sync"
    BINDINGS = actions.bindings()
    COMMANDS = App.COMMANDS | {ActionCommands}

    def __init__(
        self,
        data_dir: Path,
        pair: PairConfig,
        clock: Callable[[], datetime] = datetime.now,
        refresh_on_start: bool = True,
        config_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.pair = pair
        # Handed to the child process that refreshes and syncs (None: the default config).
        self.config_path = config_path
        self.running = workers.Running()
        self.clock = clock
        self.refresh_on_start = refresh_on_start
        self.cache = Cache.open(data_dir)
        self.view: View = VIEWS[0]
        self.filter_text = ""
        self.counts: dict[str, int] = {}
        self.capabilities: dict[Side, Capabilities] = {}
        self.busy: str | None = None
        self.last_refresh: str = "not refreshed yet"
        self._filter_timer: Timer | None = None
        self._counted_since_open = False
        # The order of the view (`o`, `O`) and a breakdown line it is narrowed to (`F`): both
        # stay across views, filters and refreshes until changed.
        self.sort: Sort = SKU_ORDER
        self.reverse = False
        self.narrow: Narrowing | None = None
        self._order_token = 0  # the latest order asked for; an older answer is dropped
        self.ordering = False  # an order is being computed (the status line says so)

    # --- layout ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # App bindings stay live under a modal screen: a key meant for a dialog (Enter in the
        # last prompt, `s`, `r`) must not act on the grid behind it.
        return not (action in actions.GRID_ACTIONS and len(self.screen_stack) > 1)

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        yield ViewBar(id="views")
        with Horizontal(id="toolbar"):
            yield TextCheckbox("Display Discrepancy Details", id="details")
            yield Input(placeholder="filter: SKU or name (Esc clears)", id="filter")
            yield Label("", id="selected")
        yield DiscrepancyGrid(id="grid")
        with Horizontal(id="status"):
            yield Label("", id="status-label")
            yield Label("", id="order")
            yield ProgressBar(id="progress", show_eta=False)
        yield Footer()

    @property
    def grid(self) -> DiscrepancyGrid:
        return self.query_one(DiscrepancyGrid)

    def on_mount(self) -> None:
        self._read_capabilities()
        self.query_one("#progress").display = False
        self.query_one("#order").display = False
        info = self.cache.refresh_info(self.pair.name)
        if info is not None:
            self.last_refresh = f"cached {info.refreshed_at[11:19]} UTC"
        self._load_view()
        self._update_bars()
        self.grid.focus()
        self._counts_worker()  # the cached rows' counts, while a refresh may still be running
        self._longest_sku_worker()
        if self.refresh_on_start:
            self.action_refresh()

    @work(thread=True, group="counts", exit_on_error=False)
    def _counts_worker(self) -> None:
        workers.run_counts(self, self.data_dir, self.pair.name)

    @work(thread=True, group="longest-sku", exit_on_error=False)
    def _longest_sku_worker(self) -> None:
        # A scan of every row on a big catalog: off the UI thread, with its own connection.
        with Cache.open(self.data_dir) as cache:
            found = cache.conn.execute(
                "SELECT max(length(sku)) FROM rows WHERE pair = ?", (self.pair.name,)
            ).fetchone()[0]
        self.post_message(LongestSku(int(found or 0)))

    def on_longest_sku(self, message: LongestSku) -> None:
        if message.cells:
            self.grid.longest_sku = message.cells

    def on_counts_ready(self, message: CountsReady) -> None:
        # Counts of the cache as opened; a refresh or sync that finished first knows better.
        if not self.filter_text and not self._counted_since_open:
            self.counts = message.counts
            self._update_bars()

    def _read_capabilities(self) -> None:
        # From the kind and the config: the console never opens a connector itself.
        self.capabilities = {
            "store": capabilities(self.pair.store, "store"),
            "backoffice": capabilities(self.pair.backoffice, "backoffice"),
        }

    @property
    def ordered(self) -> bool:
        """A sort or a breakdown line is on: the view's order is computed off the UI thread."""
        return self.sort is not SKU_ORDER or self.reverse or self.narrow is not None

    def _load_view(self, keep_cursor: bool = False, follow: str | None = None) -> None:
        """Show the view. Sorted or narrowed, it is ordered by a thread worker (an index scan
        of the whole pair) and the cursor then follows its row by key (`keep_cursor`), or goes
        to the row of key `follow`; until then the rows shown stay as they were."""
        if self.ordered or follow is not None:
            row = self.grid.current_row if keep_cursor else None
            self._order_token += 1
            self.ordering = True
            selected = self.grid.selected_positions() if self.view is SELECTED_VIEW else None
            text = "" if self.view is SELECTED_VIEW else self.filter_text
            self._order_worker(
                self._order_token,
                self.view,
                text,
                selected,
                follow or (row.key if row is not None else None),
                (self.sort, self.reverse, self.narrow),
            )
            self._show_order()
            return
        self._order_token += 1  # an order still being computed is no longer wanted
        self.ordering = False
        self._show_order()
        if self.view is SELECTED_VIEW:
            # Exactly the selected rows, whatever the filter: what "all selected" would sync.
            positions = self.grid.selected_positions()
            rows = ViewRows(self.cache, self.pair.name, SELECTED_VIEW, positions=positions)
            self.grid.set_source(rows, keep_cursor)
            return
        source = ViewRows(self.cache, self.pair.name, self.view, self.filter_text)
        self.grid.set_source(source, keep_cursor=keep_cursor)

    @work(thread=True, exclusive=True, group="order", exit_on_error=False)
    def _order_worker(
        self,
        token: int,
        view: View,
        text: str,
        selected: list[int] | None,
        follow: str | None,
        order: tuple[Sort, bool, Narrowing | None],
    ) -> None:
        sort, reverse, narrow = order
        try:
            with Cache.open(self.data_dir) as cache:
                positions = view_order(
                    cache,
                    self.pair.name,
                    view,
                    text,
                    narrow=narrow,
                    selected=selected,
                    sort=sort,
                    reverse=reverse,
                )
            cursor = None
            if follow is not None:
                now = positions_of(self.data_dir, self.pair.name, [follow])
                cursor = index_in(positions, now[0]) if now else None
            self.post_message(OrderReady(token, positions, cursor))
        except Exception as exc:  # one line in the status bar; the rows shown stay
            self.post_message(OrderReady(token, None, error=str(exc).splitlines()[0]))

    def on_order_ready(self, message: OrderReady) -> None:
        if message.token != self._order_token:
            return  # a newer sort, view or refresh asked since
        self.ordering = False
        if message.positions is None:
            self._show_order()
            self.say(f"Sorting failed: {message.error}", severity="error")
            return
        text = "" if self.view is SELECTED_VIEW else self.filter_text
        rows = ViewRows(
            self.cache,
            self.pair.name,
            self.view,
            text,
            positions=message.positions,
            sort=self.sort,
            reverse=self.reverse,
            narrow=self.narrow,
        )
        self.grid.set_source(rows)
        if message.cursor is not None:
            self.grid.cursor_row = message.cursor
        self._show_order()

    def _show_order(self) -> None:
        """The sort and the breakdown line in the status line (hidden when neither is on)."""
        parts = []
        if self.sort is not SKU_ORDER or self.reverse:
            parts.append(f"sort: {self.sort.label}" + (", reversed" if self.reverse else ""))
        if self.narrow is not None:
            parts.append(f"only {self.narrow.label} (Esc: all)")
        text = " · ".join(parts)
        if self.ordering:
            text = f"sorting… {text}"
        label = self.query_one("#order", Label)
        label.update(Text(text))
        label.display = bool(text)

    def _update_bars(self) -> None:
        # Names come from the config, still shown as plain text: never parsed as markup.
        store, backoffice = inert(self.pair.store.name), inert(self.pair.backoffice.name)
        if self.pair.master == "backoffice":
            backoffice += " (master)"
        else:
            store += " (master)"
        title = Text("tui-sync", style="bold")
        title.append(f" {inert(self.pair.name)}: {store} ⇄ {backoffice} · {self.last_refresh}")
        self.query_one("#title", Static).update(title)
        counts = {**self.counts, SELECTED_VIEW.key: self.grid.selected_count}
        self.query_one(ViewBar).show(self.view.key, counts, bool(self.filter_text))
        self.query_one("#selected", Label).update(self.selection_text())

    def selection_text(self) -> str:
        count, hidden = self.grid.selected_count, self.grid.selected_count
        hidden -= self.grid.selected_in_view
        return f"{count:,} selected ({hidden:,} not in this view)"

    def origin(self) -> str:
        """The view and filter a plan comes from, in words (the filter was typed, maybe pasted)."""
        where = f"From the view “{self.view.label}”"
        if self.filter_text and self.view is not SELECTED_VIEW:
            return f"{where}, filtered by “{inert(self.filter_text)}”"
        return f"{where}, no filter"

    def say(
        self, message: str, severity: SeverityLevel = "information", timeout: float = 6
    ) -> None:
        """A notification of text that may hold remote words (a SKU in an error): inert, and
        never parsed as markup."""
        self.notify(inert(message), severity=severity, timeout=timeout, markup=False)

    def _status(self, message: str, layout: bool = True) -> None:
        self.query_one("#status-label", Label).update(Text(inert(message)), layout=layout)

    # --- views, filter, details, selection ----------------------------------------------------

    def action_view(self, key: str) -> None:
        self.view = SELECTED_VIEW if key == SELECTED_VIEW.key else VIEW_BY_KEY[key]
        self._load_view()
        self._update_bars()

    def action_toggle_details(self) -> None:
        box = self.query_one("#details", Checkbox)
        box.value = not box.value

    @on(Checkbox.Changed, "#details")
    def _details_changed(self, event: Checkbox.Changed) -> None:
        self.grid.show_details = event.value

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("open")
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        # Debounced: on a big catalog each filter is a scan, so wait for a pause in typing.
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(0.25, partial(self._apply_filter, event.value))

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self._apply_filter(event.value)
        self.grid.focus()

    def _apply_filter(self, text: str) -> None:
        if text == self.filter_text:
            return
        self.filter_text = text
        self.counts = view_counts(self.cache, self.pair.name, text)
        self._load_view()
        self._update_bars()

    def on_key(self, event: events.Key) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and box.has_focus:
            box.value = ""
            self._apply_filter("")
            box.remove_class("open")
            self.grid.focus()

    # --- triage: sort, go to a SKU, breakdown -------------------------------------------------

    def action_sort(self) -> None:
        self.push_screen(SortScreen(self.sort), self._sort_chosen)

    def _sort_chosen(self, sort: Sort | None) -> None:
        if sort is None:
            return
        self.sort, self.reverse = sort, False
        self._load_view()

    def action_reverse_sort(self) -> None:
        self.reverse = not self.reverse
        self._load_view()

    def action_goto_sku(self) -> None:
        self.push_screen(GotoScreen(), self._goto_chosen)

    def _goto_chosen(self, text: str | None) -> None:
        source = self.grid.source
        if text is None or source is None:
            return
        self._goto_worker(text, source.positions())

    @work(thread=True, exclusive=True, group="goto", exit_on_error=False)
    def _goto_worker(self, text: str, positions: Sequence[int]) -> None:
        try:
            with Cache.open(self.data_dir) as cache:
                found = breakdown.find_sku(cache, self.pair.name, text)
        except Exception as exc:
            self.call_from_thread(self.say, f"Go to failed: {exc}", "error")
            return
        index = index_in(positions, found.pos) if found is not None else None
        self.post_message(SkuFound(text, found, index))

    def on_sku_found(self, message: SkuFound) -> None:
        found = message.found
        if found is None:
            self.say(f"No SKU like “{message.text.strip()}”", severity="warning")
            return
        if message.index is not None:
            self.grid.cursor_row = message.index
            return
        self.push_screen(
            OfferAllScreen(found.sku, self.view.label), partial(self._offer_answered, found)
        )

    def _offer_answered(self, found: breakdown.Found, show: bool | None) -> None:
        if not show:
            return
        # All, unfiltered and not narrowed, holds every row: the sort stays.
        self.view, self.narrow = VIEWS[0], None
        if self.filter_text:
            self.query_one("#filter", Input).value = ""
            self.filter_text = ""
            self.counts = view_counts(self.cache, self.pair.name)
        self._load_view(follow=found.key)
        self._update_bars()

    def action_breakdown(self) -> None:
        view, narrow = self.view, self.narrow
        selected = self.grid.selected_positions() if view is SELECTED_VIEW else None
        text = "" if selected is not None else self.filter_text

        def count() -> list[breakdown.Line]:  # on the screen's thread worker
            with Cache.open(self.data_dir) as cache:
                return breakdown.breakdown(cache, self.pair.name, view, text, narrow, selected)

        def select(line: Narrowing) -> None:
            self._select_worker(view, text, line.within(narrow), selected)

        title = f"Breakdown of “{view.label}”"
        if narrow is not None:
            title += f", only {narrow.label}"
        self.push_screen(BreakdownScreen(title, count, select), self._breakdown_chosen)

    def _breakdown_chosen(self, line: Narrowing | None) -> None:
        if line is None:
            return
        self.narrow = line.within(self.narrow)
        self._load_view()

    @work(thread=True, group="select", exit_on_error=False)
    def _select_worker(
        self, view: View, text: str, narrow: Narrowing, selected: list[int] | None
    ) -> None:
        try:
            with Cache.open(self.data_dir) as cache:
                found = view_order(
                    cache, self.pair.name, view, text, narrow=narrow, selected=selected
                )
        except Exception as exc:
            self.call_from_thread(self.say, f"Selecting failed: {exc}", "error")
            return
        self.post_message(RowsToSelect(found, narrow.label))

    def on_rows_to_select(self, message: RowsToSelect) -> None:
        self.grid.add_to_selection(message.positions)
        self.say(f"Selected {len(message.positions):,} row(s): {message.label}")

    def action_select_all(self) -> None:
        self.grid.select_all_in_view()

    def action_select_none(self) -> None:
        self.grid.clear_selection()

    @on(DiscrepancyGrid.SelectionChanged)
    def _selection_changed(self) -> None:
        self._update_bars()

    @on(DiscrepancyGrid.RowActivated)
    def _row_activated(self, event: DiscrepancyGrid.RowActivated) -> None:
        self.push_screen(RowDetailScreen(event.row, self.cache, self.pair.name))

    def action_row_detail(self) -> None:
        row = self.grid.current_row
        if row is not None:
            self.push_screen(RowDetailScreen(row, self.cache, self.pair.name))

    def action_run_log(self) -> None:
        self.push_screen(RunLogScreen(self.cache, self.pair.name))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.pair))

    # --- refresh and sync -------------------------------------------------------------------

    def _start(self, what: str) -> bool:
        if self.busy:
            self.say(f"{self.busy} is running; wait for it to finish", severity="warning")
            return False
        self.busy = what
        bar = self.query_one("#progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self._status(f"{what}…")
        return True

    def _finish(self, message: str) -> None:
        self.busy = None
        self.query_one("#progress").display = False
        self._status(message)

    def action_stop(self) -> None:
        """Esc: stop the refresh or sync in progress (a sync ends after its batch in flight)."""
        if self.query_one("#filter", Input).has_focus:
            return  # Esc there clears the filter (on_key)
        if self.busy and self.running.stop():
            self._status(f"Stopping the {self.busy.lower()}…")
        elif not self.busy and self.narrow is not None:  # back from a breakdown line
            self.narrow = None
            self._load_view()

    def action_refresh(self) -> None:
        if self._start("Refresh"):
            self._refresh_worker()

    @work(exclusive=True, group="refresh", exit_on_error=False)
    async def _refresh_worker(self) -> None:
        selected = self.grid.selected_positions()
        await workers.run_refresh(
            self, self.data_dir, self.config_path, self.pair, selected, self.running
        )

    def sync_scopes(self) -> tuple[list[Scope], str]:
        """The row sets a sync may act on, and the one offered first: the visible selection,
        else the cursor row; all selected rows only when chosen, saying how many are hidden."""
        grid = self.grid
        scopes: list[Scope] = []
        visible = grid.selected_positions_in_view()
        visible.sort()  # in SKU order whatever the sort, as a plan lists them (C-fast if so)
        if visible:
            scopes.append(Scope("visible", f"In this view ({len(visible):,})", visible))
        total = grid.selected_count
        if total:
            label = f"All {total:,} ({total - len(visible):,} not shown)"
            scopes.append(Scope("all", label, grid.selected_positions()))
        row = grid.current_row
        if row is not None:
            scopes.append(Scope("cursor", "Cursor row only", [row.pos]))
        default = "visible" if visible else "cursor" if row is not None else "all"
        return scopes, default

    def action_sync(self) -> None:
        if self.busy:
            self.say(f"{self.busy} is running; wait for it to finish", severity="warning")
            return
        scopes, default = self.sync_scopes()
        if not scopes:
            self.say("Nothing to sync: select rows with space, or `a` for the whole view")
            return
        dialog = SyncDialog(
            self.pair,
            scopes,
            partial(stream_rows, self.data_dir, self.pair.name),
            self.capabilities,
            self.origin(),
            fields=VIEW_FIELDS.get(self.view.key),
            default_scope=default,
            guard=partial(guard_reasons, self.data_dir, self.pair),
        )
        self.push_screen(dialog, self._sync_chosen)

    def _sync_chosen(self, plan: Plan | None) -> None:
        if plan is None or plan.is_empty:
            return
        if self._start("Sync"):
            self._sync_worker(plan)

    @work(exclusive=True, group="sync", exit_on_error=False)
    async def _sync_worker(self, plan: Plan) -> None:
        await workers.run_sync(
            self, self.data_dir, self.config_path, self.pair, plan, "sync", running=self.running
        )

    def on_progress(self, message: Progress) -> None:
        bar = self.query_one("#progress", ProgressBar)
        bar.update(total=message.total, progress=message.done)
        done = f" {message.done:,}/{message.total:,}" if message.total else ""
        # Progress repaints the label (its width is fixed: 1fr), without a re-layout.
        self._status(f"{message.label}{done}", layout=False)

    def _take_counts(self, counts: dict[str, int]) -> None:
        """Counts a worker made after its work; with a filter on, the filtered ones instead."""
        self._counted_since_open = True
        self.counts = (
            counts
            if not self.filter_text
            else view_counts(self.cache, self.pair.name, self.filter_text)
        )

    def on_refresh_done(self, message: RefreshDone) -> None:
        summary = message.summary
        self._take_counts(message.counts)
        self.last_refresh = f"refreshed {self.clock():%H:%M:%S}"
        self._longest_sku_worker()
        # The selection follows its rows (by key) when the refresh renumbered them.
        self._load_view(keep_cursor=True)
        gone = ""
        if message.selection is not None:
            self.grid.set_selection(message.selection)
            lost = message.selected_before - len(message.selection)
            if lost:
                gone = f"; {lost:,} selected row(s) are gone"
        self._finish(
            f"Refreshed: {summary.store_items:,} store and {summary.backoffice_items:,} "
            f"back-office items, {summary.rows:,} rows{gone}"
        )
        self._update_bars()

    def on_sync_done(self, message: SyncDone) -> None:
        run = message.run
        self._take_counts(message.counts)
        self.grid.clear_selection()
        if self.ordered:  # the gaps moved: the order too
            self._load_view(keep_cursor=True)
        else:
            self.grid.reload()
        bad = run.count("conflict") + run.count("failed")
        text = (
            f"Run {run.run_id}: {run.count('done')} written, {bad} conflict/failed, "
            f"{run.count('refused')} refused"
        )
        self._finish(text)
        self.say(text, severity="warning" if bad else "information")
        self._update_bars()

    def on_work_failed(self, message: WorkFailed) -> None:
        if message.error == "stopped":  # Esc: a refresh swapped nothing in
            self._finish(f"{message.what} stopped: the cache is as it was")
            return
        self._finish(f"{message.what} failed: {message.error}")
        self.say(f"{message.what} failed: {message.error}", severity="error", timeout=10)

    def on_unmount(self) -> None:
        self.cache.close()
