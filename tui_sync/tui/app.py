"""The console: wires the grid, the bars, the screens, the bindings and the workers.

It reads rows from the cache (main thread, one connection) and never talks to a connector: refresh
and sync run in thread workers (workers.py) that post messages handled here.
"""

from __future__ import annotations

from collections.abc import Callable
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

from tui_sync.cache import Cache, CacheError
from tui_sync.config import ConfigError, PairConfig
from tui_sync.connectors import capabilities
from tui_sync.connectors.base import ConnectorError
from tui_sync.model import Capabilities, Field, Plan, Side, side_label
from tui_sync.sandbox.remote import SandboxStateError
from tui_sync.scheduler import guard_reasons
from tui_sync.text import inert
from tui_sync.tui import actions, workers
from tui_sync.tui.checkbox import TextCheckbox
from tui_sync.tui.grid import DiscrepancyGrid
from tui_sync.tui.messages import (
    CountsReady,
    LongestSku,
    Progress,
    RefreshDone,
    SyncDone,
    WorkFailed,
)
from tui_sync.tui.screens.help import HelpScreen
from tui_sync.tui.screens.row_detail import RowDetailScreen
from tui_sync.tui.screens.run_log import RunLogScreen
from tui_sync.tui.screens.sync_dialog import Scope, SyncDialog
from tui_sync.tui.selected_rows import SELECTED_VIEW
from tui_sync.tui.view_bar import ViewBar
from tui_sync.views import VIEW_BY_KEY, VIEWS, View, ViewRows, stream_rows, view_counts

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
        # A side whose connection failed in the last refresh or sync, in a few words (none: the
        # side answered, or has not been asked yet); shown in the title until a refresh works.
        self.side_states: dict[Side, str] = {}
        # A known error that stopped the console (a config or cache it cannot use): the one
        # line the CLI prints after the console has closed, instead of Textual's traceback.
        self.failure: str | None = None
        self._filter_timer: Timer | None = None
        self._counted_since_open = False

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
            yield ProgressBar(id="progress", show_eta=False)
        yield Footer()

    @property
    def grid(self) -> DiscrepancyGrid:
        return self.query_one(DiscrepancyGrid)

    def on_mount(self) -> None:
        self._read_capabilities()
        self.query_one("#progress").display = False
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

    def _load_view(self, keep_cursor: bool = False) -> None:
        if self.view is SELECTED_VIEW:
            # Exactly the selected rows, whatever the filter: what "all selected" would sync.
            positions = self.grid.selected_positions()
            rows = ViewRows(self.cache, self.pair.name, SELECTED_VIEW, positions=positions)
            self.grid.set_source(rows, keep_cursor)
            return
        source = ViewRows(self.cache, self.pair.name, self.view, self.filter_text)
        self.grid.set_source(source, keep_cursor=keep_cursor)

    def _side_title(self, side: Side) -> Text:
        # Names come from the config, still shown as plain text: never parsed as markup.
        connection = self.pair.store if side == "store" else self.pair.backoffice
        text = Text(inert(connection.name) + (" (master)" if self.pair.master == side else ""))
        state = self.side_states.get(side)
        if state:
            text.append(f" ✗ {state.split(':', 1)[0]}", style="bold red")
        return text

    def _update_bars(self) -> None:
        title = Text("tui-sync", style="bold")
        title.append(f" {inert(self.pair.name)}: ")
        title.append_text(self._side_title("store"))
        title.append(" ⇄ ")
        title.append_text(self._side_title("backoffice"))
        title.append(f" · {self.last_refresh}")
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
        self.side_states.clear()  # both sides answered
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
        if message.side is not None and message.state:
            # The side that failed and what to do, in the status line; the title keeps it.
            self.side_states[message.side] = message.state
            self._finish(f"{message.what} failed: {side_label(message.side)}: {message.state}")
            self._update_bars()
        else:
            self._finish(f"{message.what} failed: {message.error}")
        self.say(f"{message.what} failed: {message.error}", severity="error", timeout=10)

    def _handle_exception(self, error: Exception) -> None:
        """A config, connector or cache error that reaches the app (the console started on a
        pair it cannot use) closes it with one line, printed by the CLI once the terminal is
        back, not Textual's traceback (which shows local variables). Any other error is a bug:
        Textual's report is kept."""
        if isinstance(error, ConfigError | ConnectorError | CacheError | SandboxStateError):
            lines = str(error).strip().splitlines()
            self.failure = inert(lines[0] if lines else type(error).__name__)
            self.exit(return_code=2 if isinstance(error, ConfigError) else 1)
            return
        super()._handle_exception(error)

    def on_unmount(self) -> None:
        self.cache.close()
