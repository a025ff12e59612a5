"""The console: wires the grid, the bars, the screens, the bindings and the workers.

It reads rows from the cache (main thread, one connection) and never talks to a connector: refresh
and sync run in thread workers (workers.py) that post messages handled here.

The schedule (`A`) is `tui-sync auto` while the console is open: each tick is one `auto --once` in
the worker process, under the pair lock, never overlapping the console's own refresh or sync (a
tick due while one runs waits for it). The timer is injectable, so tests fire a tick at once.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from array import array
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import compress
from pathlib import Path
from typing import ClassVar, Protocol

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal
from textual.filter import Monochrome
from textual.notifications import SeverityLevel
from textual.theme import Theme
from textual.timer import Timer
from textual.widgets import Checkbox, Footer, Input, Label, ProgressBar, Static

from tui_sync import breakdown, intended
from tui_sync.cache import AutoTick, Cache, CacheError, now_utc
from tui_sync.config import ConfigError, PairConfig
from tui_sync.connectors import capabilities
from tui_sync.connectors.base import ConnectorError
from tui_sync.export import FORMATS, ExportError, Format, clipboard_text, default_path, export_rows
from tui_sync.model import Capabilities, Field, Plan, Row, Side, side_label
from tui_sync.sandbox.pair import is_sandbox_side
from tui_sync.sandbox.state import SandboxStateError
from tui_sync.scheduler import guard_reasons, next_wait
from tui_sync.selection import like_description, like_mask, mask_of
from tui_sync.sync import store_buffer
from tui_sync.text import inert
from tui_sync.tui import actions, map_actions, themes, workers
from tui_sync.tui.checkbox import TextCheckbox
from tui_sync.tui.columns import fit_middle
from tui_sync.tui.grid import EMPTY_TEXT, DiscrepancyGrid, GridSource
from tui_sync.tui.messages import (
    AutoTickDone,
    CountsReady,
    IntentChanged,
    LongestSku,
    MappingDone,
    OrderReady,
    Progress,
    RefreshDone,
    RowsToSelect,
    SkuFound,
    SyncDone,
    WorkFailed,
)
from tui_sync.tui.screens.export_dialog import ExportChoice, ExportDialog, ExportRequest
from tui_sync.tui.screens.help import HelpScreen
from tui_sync.tui.screens.intended import IntendedDialog, IntentChoice
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
    row_of,
    stream_rows,
    view_counts,
    view_order,
)

# The sync dialog's fields follow the view it was opened from.
VIEW_FIELDS: dict[str, tuple[Field, ...]] = {"quantity": ("quantity",), "price": ("price",)}
# Views that are exactly some statuses: a `sync --status` names their rows.
STATUSES_OF_VIEW: dict[str, tuple[str, ...]] = {
    "out_of_sync": ("out_of_sync",),
    "in_orders": ("in_orders",),
    "base": ("base",),
    "unmatched": ("store_only", "backoffice_only"),
}

# What `busy` says while a tick of the schedule runs.
AUTO = "Automatic sync"


class Stoppable(Protocol):
    def stop(self) -> None: ...


# Arms a one-shot timer: (seconds, callback) -> something to stop it with. Textual's set_timer
# by default; a test passes its own and fires the tick when it wants.
ArmTimer = Callable[[float, Callable[[], None]], Stoppable]


def local_time(stamp: str) -> str:
    """A cache stamp (UTC, `...T12:00:00Z`) as the console's local HH:MM."""
    at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return f"{at.astimezone():%H:%M}"


class ActionCommands(Provider):
    """Every action of the registry in the command palette, listed as soon as it opens."""

    async def discover(self) -> Hits:
        app = self.app
        assert isinstance(app, TuiSyncApp)
        for action in actions.ACTIONS:
            if action.screen != "app":
                continue
            yield DiscoveryHit(
                action.help,
                partial(app.run_action, action.action),
                help=f"key: {actions.key_label(action, app.keys)}",
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        app = self.app
        assert isinstance(app, TuiSyncApp)
        for action in actions.ACTIONS:
            score = matcher.match(action.help) if action.screen == "app" else 0
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(action.help),
                    partial(app.run_action, action.action),
                    help=f"key: {actions.key_label(action, app.keys)}",
                )


def title_text(
    pair: PairConfig, last_refresh: str, width: int, states: Mapping[Side, str] | None = None
) -> Text:
    """The pair, whether it is the sandbox or LIVE data, which side is the master, and the last
    refresh, in `width` cells: the app's name goes first, then "refreshed", then the names are
    shortened in the middle. A side whose connection failed (`states`: "auth failed (401): …")
    is marked after its name until a refresh works. Names come from the config: plain text,
    never markup."""
    # Both sides the built-in sandbox's (never a live store): else LIVE, in reverse video.
    sandbox = is_sandbox_side(pair.store, "store") and is_sandbox_side(
        pair.backoffice, "backoffice"
    )
    names = [inert(pair.store.name), inert(pair.backoffice.name)]
    master = " (master)"

    def build(app_name: bool, refreshed: bool, name_width: int | None) -> Text:
        text = Text("tui-sync ", style="bold") if app_name else Text()
        text.append(inert(pair.name), style="bold")
        text.append(" ")
        text.append("SANDBOX" if sandbox else " LIVE ", style="bold" if sandbox else "bold reverse")
        shown = [n if name_width is None else fit_middle(n, name_width).rstrip() for n in names]
        store, backoffice = shown
        if pair.master == "store":
            store += master
        else:
            backoffice += master
        text.append(": ")
        sides: tuple[tuple[Side, str], ...] = (("store", store), ("backoffice", backoffice))
        for side, name in sides:
            if side == "backoffice":
                text.append(" ⇄ ")
            text.append(name)
            state = (states or {}).get(side)
            if state:
                text.append(f" ✗ {state.split(':', 1)[0]}", style="bold red")
        text.append(" · ")
        text.append(last_refresh if refreshed else last_refresh.split(" ")[-1])
        return text

    for app_name, refreshed in ((True, True), (False, True), (False, False)):
        text = build(app_name, refreshed, None)
        if text.cell_len <= width:
            return text
    spare = width - build(False, False, 0).cell_len
    return build(False, False, max(4, spare // 2))


NOT_REFRESHED = "not refreshed yet"


def rate_text(moved: int, seconds: float, total: int | None, done: int) -> str:
    """The progress line's pace, as ` · 85/s · 21 s left`: how fast the work goes since it
    began and, with a total, how long the rest takes at that pace; nothing until a second has
    passed and something moved."""
    if seconds < 1 or moved <= 0:
        return ""
    rate = moved / seconds
    shown = f"{rate:,.0f}/s" if rate >= 10 else f"{rate:.1f}/s"
    if not total or done >= total:
        return f" · {shown}"
    left = (total - done) / rate
    if left < 90:
        return f" · {shown} · {left:.0f} s left"
    if left < 5400:
        return f" · {shown} · {left / 60:.0f} min left"
    return f" · {shown} · {left / 3600:.1f} h left"


class TuiSyncApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "tui-sync"
    BINDINGS = actions.bindings()
    COMMANDS = App.COMMANDS | {ActionCommands}
    # How often the console asks SQLite whether another process (a cron `sync`, `auto`) wrote
    # the cache: `PRAGMA data_version` answers from memory, so a poll costs microseconds.
    CACHE_POLL_S: ClassVar[float] = 1.0

    def __init__(
        self,
        data_dir: Path,
        pair: PairConfig,
        clock: Callable[[], datetime] = datetime.now,
        refresh_on_start: bool = True,
        config_path: Path | None = None,
        keys: Mapping[str, tuple[str, ...]] | None = None,
        theme: str | None = None,
        timer: ArmTimer | None = None,
    ) -> None:
        super().__init__()
        # The config's `[keys]` over the registry's (q and ctrl+q always quit), as Textual's
        # keymap: the bindings keep their ids, only their keys change.
        self.keys = actions.effective_keys(keys or {})
        self.set_keymap(self.keys.for_textual())
        self.theme_choice = theme
        for extra in themes.themes():
            self.register_theme(extra)
        self._env_no_color = self.no_color  # NO_COLOR was set: no theme brings colour back
        self._monochrome = Monochrome()
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
        self.last_refresh: str = NOT_REFRESHED
        # A side whose connection failed in the last refresh or sync, in a few words (none: the
        # side answered, or has not been asked yet); shown in the title until a refresh works.
        self.side_states: dict[Side, str] = {}
        # A known error that stopped the console (a config or cache it cannot use): the one
        # line the CLI prints after the console has closed, instead of Textual's traceback.
        self.failure: str | None = None
        self._filter_timer: Timer | None = None
        # Bulk selections are merged in the order asked for (see _merge_mask).
        self._mask_tickets = itertools.count()
        self._mask_next = 0
        self._masks_ready: dict[int, tuple[GridSource, bytearray | None, bool, str]] = {}
        self._counted_since_open = False
        # When the work in progress began (monotonic seconds) and how far it was then: the
        # rate and time left of the progress line are measured from there.
        self.monotonic: Callable[[], float] = time.monotonic
        self._progress_since: tuple[str, float, int] | None = None
        # The order of the view (`o`, `O`) and a breakdown line it is narrowed to (`F`): both
        # stay across views, filters and refreshes until changed.
        self.sort: Sort = SKU_ORDER
        self.reverse = False
        self.narrow: Narrowing | None = None
        self._order_token = 0  # the latest order asked for; an older answer is dropped
        self.ordering = False  # an order is being computed (the status line says so)
        self._data_version = 0
        self._refreshed_at: str | None = None
        self._grid: DiscrepancyGrid | None = None
        self._own_writes = 0  # the console's own writes in thread workers (marks), in flight
        # The schedule: off until `A`; its interval is the pair's `schedule`.
        self._arm_timer: ArmTimer = timer or self.set_timer
        self.auto_every = None if pair.schedule is None else pair.schedule.total_seconds()
        self.auto_on = False
        self.auto_next: datetime | None = None
        self.last_tick: AutoTick | None = None
        self._auto_timer: Stoppable | None = None
        self._auto_queued = False
        self._auto_failures = 0
        self._auto_started: datetime | None = None

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
            yield Label("", id="auto")
            yield ProgressBar(id="progress", show_eta=False)
        yield Footer()

    @property
    def grid(self) -> DiscrepancyGrid:
        # Found once: a message handled as the app closes (its screen's widgets already gone)
        # still has the grid it was about.
        if self._grid is None:
            self._grid = self.query_one(DiscrepancyGrid)
        return self._grid

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if self.theme_choice is not None:
            self.theme = themes.THEME_NAMES[self.theme_choice]
        self._read_capabilities()
        self.query_one("#progress").display = False
        self.query_one("#order").display = False
        info = self.cache.refresh_info(self.pair.name)
        if info is not None:
            self.last_refresh = f"cached {info.refreshed_at[11:19]} UTC"
        self._cache_seen()
        self.set_interval(self.CACHE_POLL_S, self._poll_cache)
        self.last_tick = self.cache.last_tick(self.pair.name)
        self._show_auto()
        self._load_view()
        self._update_bars()
        self.grid.focus()
        self._counts_worker()  # the cached rows' counts, while a refresh may still be running
        self._longest_sku_worker()
        if self.keys.clashes:
            self.say(
                f"[keys]: {len(self.keys.clashes)} clash(es), e.g. {self.keys.clashes[0]}; "
                "`tui-sync keys` lists them",
                severity="warning",
                timeout=10,
            )
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

    def _theme_changed(self, theme: Theme) -> None:
        """The monochrome theme is NO_COLOR's rendering: colour filtered out, and the grid's
        `:nocolor` rules on (N cells and the cursor in reverse video). Any other theme (from the
        config or the command palette) brings colour back, unless NO_COLOR asked for none."""
        mono = theme.name == themes.MONOCHROME
        if mono and self._monochrome not in self._filters:
            self._filters.append(self._monochrome)
        elif not mono and self._monochrome in self._filters:
            self._filters.remove(self._monochrome)
        no_color = mono or self._env_no_color
        if no_color != self.no_color:
            self.no_color = no_color
            self.refresh_css(animate=False)

    # --- another process wrote the cache ------------------------------------------------------

    def _cache_seen(self) -> None:
        """What the console has shown so far: changes after this are someone else's."""
        self._data_version = int(self.cache.conn.execute("PRAGMA data_version").fetchone()[0])
        info = self.cache.refresh_info(self.pair.name)
        self._refreshed_at = None if info is None else info.refreshed_at

    def _poll_cache(self) -> None:
        try:
            version = int(self.cache.conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return  # a cache busy or gone for a moment: the next poll asks again
        if version == self._data_version:
            return
        if self._own_writes:  # a write of ours is landing: its message reloads the screen
            return
        if self.busy:  # our own refresh or sync is writing: its result reloads the screen
            self._data_version = version
            return
        self._cache_changed_elsewhere()

    def _cache_changed_elsewhere(self) -> None:
        """A cron `sync`, `auto` or another console changed the cache: the rows on screen are
        read again (the cursor stays where it is), counts are recounted in a thread, and a plan
        open in the sync dialog is stale until shown again."""
        before = self._refreshed_at
        self._cache_seen()
        note = "the cache was changed by another process: rows reloaded"
        if self._refreshed_at != before and self.grid.selected_count:
            # A refresh may have renumbered the rows: a selection by position would now name
            # other rows, so it is dropped rather than trusted.
            self.grid.clear_selection()
            note += "; it refreshed, so the selection was cleared"
        self._load_view(keep_cursor=True)
        self._longest_sku_worker()
        self._recount_worker(self.filter_text)
        for screen in self.screen_stack:
            if isinstance(screen, SyncDialog):
                screen.mark_stale()
            elif isinstance(screen, RunLogScreen):
                screen.reload()
        self._status(note.capitalize())
        self._update_bars()

    @work(thread=True, exclusive=True, group="recount", exit_on_error=False)
    def _recount_worker(self, filter_text: str) -> None:
        with Cache.open(self.data_dir) as cache:
            counts = view_counts(cache, self.pair.name, filter_text)
        self.call_from_thread(self._recounted, counts, filter_text)

    def _recounted(self, counts: dict[str, int], filter_text: str) -> None:
        if filter_text == self.filter_text:
            self.counts = counts
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

    def on_resize(self, event: events.Resize) -> None:
        self._update_title()
        if self.query("#auto"):  # a resize may come before the widgets are composed
            self._show_auto()

    def _update_title(self) -> None:
        width = self.query_one("#title", Static).content_size.width or self.size.width - 2
        title = title_text(self.pair, self.last_refresh, width, self.side_states)
        self.query_one("#title", Static).update(title)

    def _update_bars(self) -> None:
        self._update_title()
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

    # --- bulk selection, off the UI thread: a worker builds a mask, the grid merges it -------

    def action_select_like(self) -> None:
        row, source = self.grid.current_row, self.grid.source
        if row is None or source is None:
            return
        if self.view is SELECTED_VIEW:
            self.say("Every row of the Selected view is selected already")
            return
        what = f"rows like {inert(row.sku)} ({like_description(row)})"
        self._status(f"Selecting {what}…")
        ticket = next(self._mask_tickets)
        self._like_worker(ticket, source, self.view, self.filter_text, row, what)

    @work(thread=True, group="select", exit_on_error=False)
    def _like_worker(
        self, ticket: int, source: GridSource, view: View, text: str, row: Row, what: str
    ) -> None:
        try:
            mask, found = like_mask(self.data_dir, self.pair.name, view, text, row, source.capacity)
        except Exception as exc:  # its turn must still come, or later merges would wait forever
            self.call_from_thread(self._merge_mask, ticket, source, None, False, str(exc))
            raise
        self.call_from_thread(self._merge_mask, ticket, source, mask, False, f"{found:,} {what}")

    def action_invert_selection(self) -> None:
        source = self.grid.source
        if source is not None and len(source):
            self._status("Inverting the selection in this view…")
            ticket = next(self._mask_tickets)
            self._mask_worker(ticket, source, 0, len(source), True, "inverted in this view")

    def action_select_range(self) -> None:
        grid = self.grid
        if grid.range_anchor is None:
            if grid.current_row is not None:
                grid.range_anchor = grid.cursor_row
                self._show_range()
            return
        self._select_range()

    @on(DiscrepancyGrid.RangeChosen)
    def _select_range(self) -> None:
        grid, bounds = self.grid, self.grid.range_indices()
        grid.range_anchor = None
        if bounds is None or grid.source is None:
            return
        low, high = bounds
        self._status(f"Selecting {high - low + 1:,} rows…")
        ticket = next(self._mask_tickets)
        self._mask_worker(ticket, grid.source, low, high + 1, False, "rows of the range")

    @on(DiscrepancyGrid.CursorMoved)
    def _show_range(self, event: DiscrepancyGrid.CursorMoved | None = None) -> None:
        # The grid the message names: one may still arrive as the app closes, its screen gone.
        grid = self.grid if event is None or event.grid is None else event.grid
        bounds = grid.range_indices()
        if bounds is not None:
            low, high = bounds
            self._status(f"Range: {high - low + 1:,} rows; v or space selects, Esc drops it")

    @work(thread=True, group="select", exit_on_error=False)
    def _mask_worker(
        self, ticket: int, source: GridSource, start: int, stop: int, invert: bool, what: str
    ) -> None:
        positions = source.positions()[start:stop]
        mask = mask_of(positions, source.capacity)
        what = f"{len(positions):,} {what}"
        self.call_from_thread(self._merge_mask, ticket, source, mask, invert, what)

    def _merge_mask(
        self,
        ticket: int,
        source: GridSource,
        mask: bytearray | None,
        invert: bool,
        what: str,
    ) -> None:
        """Merge in the order the keys were pressed (`,` then `i` is not `i` then `,`), however
        the workers finish; `mask` None: that request failed (`what` says why)."""
        self._masks_ready[ticket] = (source, mask, invert, what)
        while self._mask_next in self._masks_ready:
            source, mask, invert, what = self._masks_ready.pop(self._mask_next)
            self._mask_next += 1
            if mask is None:
                self._status(f"Selecting failed: {what}")
            elif self.grid.source is not source:  # the view changed meanwhile: other rows
                self._status("The view changed meanwhile: the selection is as it was")
            else:
                added = self.grid.merge_selection(mask, invert=invert)
                change = f"{added:+,}" if invert else f"{added:,} more"
                self._status(f"Selected {what}: {change}, {self.grid.selected_count:,} in all")

    # --- copy and export ------------------------------------------------------------------------

    def action_copy_row(self) -> None:
        row = self.grid.current_row
        if row is None:
            return
        text = clipboard_text([row])
        if text is None:  # a row of absurd size: a file, as for a big selection
            self._export_worker("csv", [row.pos], self._export_path("row", "csv"))
            return
        self.copy_to_clipboard(text)
        self._status(f"Copied {inert(row.sku)} (CSV) to the clipboard")

    def action_copy_selection(self) -> None:
        if not self.grid.selected_count:
            self.say("Nothing selected: select rows with space, `,`, `v` or `a`")
            return
        self._status(f"Copying {self.grid.selected_count:,} rows…")
        self._copy_worker(self.grid.selection_mask(), self._export_path("selection", "csv"))

    @work(thread=True, group="export", exit_on_error=False)
    def _copy_worker(self, mask: bytes, fallback: Path) -> None:
        positions = array("q", compress(range(len(mask)), mask))
        text = clipboard_text(stream_rows(self.data_dir, self.pair.name, positions))
        if text is not None:
            self.call_from_thread(self._copied, text, len(positions))
            return
        self._export_rows(positions, "csv", fallback, "over the clipboard's limit: ")

    def _copied(self, text: str, count: int) -> None:
        self.copy_to_clipboard(text)
        self._status(f"Copied {count:,} rows (CSV) to the clipboard")

    def _export_path(self, what: str, fmt: str) -> Path:
        return default_path(self.data_dir, what, fmt, self.clock())

    def action_export(self) -> None:
        source = self.grid.source
        choices = [ExportChoice("view", f"The view ({len(source or ()):,} rows)", FORMATS)]
        if self.grid.selected_count:
            label = f"The selection ({self.grid.selected_count:,} rows)"
            choices.append(ExportChoice("selection", label, FORMATS))
        paths: dict[tuple[str, str], Path] = {
            (c.key, fmt): self._export_path(self.view.key if c.key == "view" else c.key, fmt)
            for c in choices
            for fmt in FORMATS
        }
        mask = self.grid.selection_mask()

        def chosen(request: ExportRequest | None) -> None:
            if request is None or source is None:
                return
            self._status(f"Exporting to {inert(str(request.path))}…")
            if request.what == "view":
                self._export_worker(request.fmt, source.positions(), request.path)
            else:
                self._export_worker(request.fmt, mask, request.path)

        self.push_screen(ExportDialog(choices, paths), chosen)

    @work(thread=True, group="export", exit_on_error=False)
    def _export_worker(self, fmt: str, rows: Sequence[int] | bytes, path: Path) -> None:
        positions = (
            array("q", compress(range(len(rows)), rows)) if isinstance(rows, bytes) else rows
        )
        self._export_rows(positions, "json" if fmt == "json" else "csv", path)

    def _export_rows(
        self, positions: Sequence[int], fmt: Format, path: Path, why: str = ""
    ) -> None:
        """In a worker thread: write the file, then say where (or why not) on the UI thread."""
        try:
            count = export_rows(self.data_dir, self.pair.name, positions, fmt, path)
        except ExportError as exc:
            self.call_from_thread(self.say, f"Export failed: {exc}", "error", 10)
            self.call_from_thread(self._status, f"Export failed: {exc}")
            return
        self.call_from_thread(self._status, f"{why}{count:,} rows written to {path.resolve()}")

    @on(DiscrepancyGrid.SelectionChanged)
    def _selection_changed(self) -> None:
        self._update_bars()

    @on(DiscrepancyGrid.RowActivated)
    def _row_activated(self, event: DiscrepancyGrid.RowActivated) -> None:
        self._row_detail(event.row)

    def action_row_detail(self) -> None:
        row = self.grid.current_row
        if row is not None:
            self._row_detail(row)

    def _row_detail(self, row: Row) -> None:
        buffer = store_buffer(self.pair)
        self.push_screen(RowDetailScreen(row, self.cache, self.pair.name, buffer=buffer))

    # --- intended differences ---------------------------------------------------------------

    def action_intended(self) -> None:
        row = self.grid.current_row
        if row is None:
            self.say("No row under the cursor")
            return
        self.push_screen(IntendedDialog(row), partial(self._intent_chosen, row))

    def _intent_chosen(self, row: Row, choice: IntentChoice | None) -> None:
        if choice is not None:
            self._own_writes += 1
            self._intent_worker(row, choice)

    @work(thread=True, group="intended", exit_on_error=False)
    def _intent_worker(self, row: Row, choice: IntentChoice) -> None:
        # The mark and the rescore of its row are one short write; it may wait for a refresh's
        # last transaction, so not on the UI thread. The counts are a scan: here too.
        what = choice.field or "whole SKU"
        try:
            with Cache.open(self.data_dir) as cache:
                if choice.action == "mark":
                    intended.mark(cache, self.pair, row.sku, choice.field, choice.note, row.key)
                    text = f"{row.sku} {what}: intended difference, never synced"
                else:
                    intended.unmark(cache, self.pair, row.sku, choice.field, row.key)
                    text = f"{row.sku} {choice.field or 'every mark'}: unmarked"
                counts = view_counts(cache, self.pair.name)
        except (intended.UnknownSku, intended.NotMarked, CacheError, sqlite3.Error) as exc:
            self.post_message(IntentChanged(f"Not changed: {exc}", None))
            return
        except Exception as exc:  # still answered: the cache watch waits for this message
            self.post_message(IntentChanged(f"Not changed: {workers.one_line(exc)}", None))
            raise
        self.post_message(IntentChanged(text, counts))

    def on_intent_changed(self, message: IntentChanged) -> None:
        self._own_writes -= 1
        self._cache_seen()  # the mark is ours, not another process's change
        if message.counts is None:
            self.say(message.text, severity="warning")
            return
        self._take_counts(message.counts)
        self._load_view(keep_cursor=True)
        self._update_bars()
        self._status(message.text)
        self.say(message.text)

    def action_run_log(self) -> None:
        self.push_screen(RunLogScreen(self.data_dir, self.pair, self.start_undo))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.pair, self.keys))

    def action_map(self) -> None:
        map_actions.pick(self)

    def action_unmap(self) -> None:
        map_actions.confirm_unmap(self)

    def on_mapping_done(self, message: MappingDone) -> None:
        map_actions.done(self, message)

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
        self._show_auto()
        return True

    def _finish(self, message: str) -> None:
        self.busy = None
        self.grid.empty_text = EMPTY_TEXT
        self._progress_since = None
        self._cache_seen()  # what our own run wrote is not someone else's change
        self.query_one("#progress").display = False
        self._status(message)
        self._show_auto()
        if self._auto_queued and self.auto_on:
            self.call_later(self._auto_fire)  # the tick that came due meanwhile

    def action_stop(self) -> None:
        """Esc: stop the refresh or sync in progress (a sync ends after its batch in flight)."""
        if self.query_one("#filter", Input).has_focus:
            return  # Esc there clears the filter (on_key)
        if self.grid.range_anchor is not None:  # a range anchored with `v`: drop it first
            self.grid.range_anchor = None
            self._status("Range dropped")
            return
        if self.busy and self.running.stop():
            self._status(f"Stopping the {self.busy.lower()}…")
        elif not self.busy and self.narrow is not None:  # back from a breakdown line
            self.narrow = None
            self._load_view()

    def action_refresh(self) -> None:
        if self._start("Refresh"):
            if self.last_refresh == NOT_REFRESHED:  # a new user's first screen: say why empty
                self.grid.empty_text = "Reading the store and the back office for the first time…"
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
        # A whole status view, unfiltered and not narrowed by a breakdown line, is what
        # `sync --status` names (the `c` of the plan).
        whole = (
            not self.filter_text and self.narrow is None and len(visible) == len(grid.source or ())
        )
        statuses = STATUSES_OF_VIEW.get(self.view.key, ()) if whole else ()
        if visible:
            label = f"In this view ({len(visible):,})"
            scopes.append(Scope("visible", label, visible, statuses))
        total = grid.selected_count
        if total:
            label = f"All {total:,} ({total - len(visible):,} not shown)"
            every = statuses if total == len(visible) else ()
            scopes.append(Scope("all", label, grid.selected_positions(), every))
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
            open_row=self._open_plan_row,
            plan_path=partial(self._export_path, "plan", "json"),
        )
        self.push_screen(dialog, self._sync_chosen)

    def _open_plan_row(self, sku: str, key: str) -> None:
        self._plan_row_worker(sku, key)

    @work(thread=True, group="plan-row", exclusive=True, exit_on_error=False)
    def _plan_row_worker(self, sku: str, key: str) -> None:
        row = row_of(self.data_dir, self.pair.name, sku, key)
        if row is None:
            self.call_from_thread(self.say, f"{sku} is no longer in the cache", "warning")
            return
        # The screen reads the cache on the UI's connection: build it there, not in this thread.
        self.call_from_thread(self._row_detail, row)

    def _sync_chosen(self, plan: Plan | None) -> None:
        if plan is None or plan.is_empty:
            return
        if self._start("Sync"):
            self._sync_worker(plan)

    @work(exclusive=True, group="sync", exit_on_error=False)
    async def _sync_worker(self, plan: Plan, kind: str = "sync", undoes: str | None = None) -> None:
        await workers.run_sync(
            self,
            self.data_dir,
            self.config_path,
            self.pair,
            plan,
            kind,
            undoes=undoes,
            running=self.running,
        )

    def start_undo(self, plan: Plan, run_id: str) -> None:
        """Apply an undo chosen in the run log: the same child process as a sync, as a run of
        kind `undo` that names the run it reverses."""
        if self._start("Undo"):
            self._sync_worker(plan, "undo", run_id)

    def on_progress(self, message: Progress) -> None:
        bar = self.query_one("#progress", ProgressBar)
        bar.update(total=message.total, progress=message.done)
        now = self.monotonic()
        since = self._progress_since
        if since is None or since[0] != message.label or message.done < since[2]:
            since = self._progress_since = (message.label, now, message.done)
        done = f" {message.done:,}/{message.total:,}" if message.total else ""
        pace = rate_text(message.done - since[2], now - since[1], message.total, message.done)
        # Progress repaints the label (its width is fixed: 1fr), without a re-layout.
        self._status(f"{message.label}{done}{pace}", layout=False)

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
        self.last_tick = self.cache.last_tick(self.pair.name)  # cron's may have come meanwhile
        self.side_states.clear()  # both sides answered
        self._take_counts(message.counts)
        self.last_refresh = f"refreshed {self.clock():%H:%M:%S}"
        self._longest_sku_worker()
        # The selection follows its rows (by key) when the refresh renumbered them.
        self._load_view(keep_cursor=True)
        if message.news is None:
            self._finish(
                f"Refreshed: {summary.store_items:,} store and {summary.backoffice_items:,} "
                f"back-office items, {summary.rows:,} rows"
            )
        else:
            # The selection follows its rows by key (a re-pair renumbers them).
            self.grid.set_selection_mask(message.news.mask)
            self._finish(f"Refreshed {summary.rows:,} rows; selected: {message.news.line()}")
        self._update_bars()

    def on_sync_done(self, message: SyncDone) -> None:
        run = message.run
        self.last_tick = self.cache.last_tick(self.pair.name)
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
        for screen in self.screen_stack:
            if isinstance(screen, RunLogScreen):
                screen.reload()  # the new run (an undo started there) is listed at once

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

    # --- the schedule -----------------------------------------------------------------------

    def action_auto(self) -> None:
        """Start the schedule (a tick at once, as `auto --every` does), or stop it: a tick in
        flight then ends after its batch, its journal settled, as Esc stops a sync."""
        if self.auto_on:
            self.auto_on = False
            self._auto_queued = False
            self.auto_next = None
            if self._auto_timer is not None:
                self._auto_timer.stop()
                self._auto_timer = None
            if self.busy == AUTO and self.running.stop():
                self._status("Stopping the automatic sync after the batch in flight…")
            self._show_auto()
            self.say("Automatic sync stopped")
            return
        if self.auto_every is None:
            name = inert(self.pair.name)
            self.say(
                f'Pair {name} has no schedule: set schedule = "30m" (15m..24h) in '
                f"[pairs.{name}] of the config",
                severity="warning",
            )
            return
        self.auto_on = True
        self._auto_failures = 0
        self.say(f"Automatic sync every {_duration(self.auto_every)}, while the console is open")
        self._auto_fire()

    def _auto_fire(self) -> None:
        """The timer's callback: a tick now, or as soon as the console's own run ends."""
        self._auto_timer = None
        self.auto_next = None
        if not self.auto_on:
            return
        if self.busy:
            self._auto_queued = True
            self._show_auto()
            return
        self._auto_queued = False
        self.busy = AUTO
        self._auto_started = self.clock()
        self._status("Automatic sync: refresh, then the pair's policy…")
        self._show_auto()
        self._auto_worker()

    @work(exclusive=True, group="auto", exit_on_error=False)
    async def _auto_worker(self) -> None:
        selected = self.grid.selected_positions()
        await workers.run_auto_tick(
            self, self.data_dir, self.config_path, self.pair, selected, self.running
        )

    def on_auto_tick_done(self, message: AutoTickDone) -> None:
        recorded = self.cache.last_tick(self.pair.name) if message.counts is not None else None
        # The child records every tick it ran; one it could not even start is only said here.
        self.last_tick = recorded or AutoTick(
            now_utc(), message.ok, message.summary, message.line, None
        )
        if message.counts is not None:
            self._take_counts(message.counts)
            if message.refreshed:
                self.last_refresh = f"refreshed {self.clock():%H:%M:%S}"
            self._longest_sku_worker()
            self._load_view(keep_cursor=True)
            if message.selection is not None:
                self.grid.set_selection(message.selection)
        self._finish(f"Automatic sync: {message.line}")
        if message.guarded:
            # Never confirmed here: a person reviews the plan (`s`, or sync --allow-mass-change).
            self.say(
                "Automatic sync refused by a guard, nothing written: " + "; ".join(message.guarded),
                severity="warning",
                timeout=12,
            )
        elif not message.ok:
            self.say(f"Automatic sync {message.summary}", severity="warning", timeout=10)
        self._auto_failures = 0 if message.ok or message.guarded else self._auto_failures + 1
        if self.auto_on and not self._auto_queued and self.auto_every is not None:
            started = self._auto_started or self.clock()
            elapsed = (self.clock() - started).total_seconds()
            wait = next_wait(self.auto_every, self._auto_failures, bool(message.guarded))
            self._auto_arm(max(0.0, wait - elapsed))
        self._show_auto()
        self._update_bars()

    def _auto_arm(self, seconds: float) -> None:
        self.auto_next = self.clock() + timedelta(seconds=seconds)
        self._auto_timer = self._arm_timer(seconds, self._auto_fire)

    def auto_text(self, room: int = 1000) -> str:
        """The status line's right end, in `room` cells: the last tick (any process's: cron, a
        timer, this console) and, while the schedule runs here, what comes next; the last
        tick's result gives way first (the status message and the log have it in full).
        Empty: nothing to say."""
        head = summary = ""
        if self.last_tick is not None:
            head, summary = f"auto {local_time(self.last_tick.at)} ", self.last_tick.summary
        tail = ""
        if self.auto_on:
            if self.busy == AUTO:
                tail = "running"
            elif self._auto_queued:
                tail = "waiting"  # for the console's own refresh or sync to end
            elif self.auto_next is not None:
                tail = f"next {self.auto_next:%H:%M}"
            if tail:
                tail = f" · {tail}" if head else f"auto: {tail}"
        left = room - cell_len(head) - cell_len(tail)
        if cell_len(summary) > left:
            summary = set_cell_size(summary, max(0, left - 1)).rstrip() + "…"
        return f"{head}{summary}{tail}"

    def _show_auto(self) -> None:
        label = self.query_one("#auto", Label)
        # Three fifths of the status line (beside the progress bar) at most: the status
        # message keeps the rest.
        bar = self.query_one("#progress", ProgressBar)
        width = self.size.width - (bar.outer_size.width or 34 if bar.display else 0)
        text = self.auto_text(max(24, width * 3 // 5 - 2))
        label.display = bool(text)
        label.set_class(self.last_tick is not None and not self.last_tick.ok, "failed")
        label.update(Text(inert(text), no_wrap=True, overflow="ellipsis"))

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


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
