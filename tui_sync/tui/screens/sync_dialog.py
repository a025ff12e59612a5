"""The sync dialog: pick the rows, the side to update and the fields, review the plan, confirm.

The rows are named, never guessed: the visible selection (in this view and filter), every
selected row, or the cursor row, and the plan says which view and filter it came from. Review
starts on Back, and writing takes a deliberate key in a last prompt (confirm_apply.py).

The same dialog reviews an undo (opened from the run log): it starts on the reverse plan, whose
lines are picked with space (a partial undo), and says what it cannot restore and why.
A plan the cache has moved under (another process refreshed or synced) is marked stale and must
be shown again before it can be applied.
"""

from __future__ import annotations

import io
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, OptionList, RadioSet, SelectionList, Static
from textual.widgets.option_list import Option
from textual.widgets.selection_list import Selection

from tui_sync import export
from tui_sync.config import PairConfig
from tui_sync.export import ExportError, export_plan
from tui_sync.model import Capabilities, Change, Field, Plan, Row, Side, other_side, side_label
from tui_sync.sync import NothingToDo, SyncError, Unsettled, plan
from tui_sync.text import inert
from tui_sync.tui.columns import fit_middle
from tui_sync.tui.radio import ChoiceSet, TextRadioButton
from tui_sync.tui.screens.confirm_apply import ConfirmApply
from tui_sync.tui.screens.export_dialog import ExportChoice, ExportDialog, ExportRequest

# The choices offered for fields, as sellers name them.
FIELD_CHOICES: tuple[tuple[str, tuple[Field, ...]], ...] = (
    ("Quantity", ("quantity",)),
    ("Price", ("price",)),
    ("Both", ("quantity", "price")),
    ("Cost", ("cost",)),
)
PLAN_LINES_SHOWN = 400
PLAN_HINT = "↑↓ Enter: that row · c: copy as a tui-sync command · x: save the plan file"
PLAN_SKU_CAP = 32  # longer SKUs are shortened in the middle, both ends stay readable
# An undo's lines are picked one by one up to this many; a bigger run is undone whole.
UNDO_PICK_MAX = 2000
STALE_TEXT = (
    "⚠ The cache changed since this plan was made (another process refreshed or synced): "
    "press p to show the plan again before applying it."
)


@dataclass(frozen=True, slots=True)
class Scope:
    """One way to say which rows a sync acts on."""

    key: str  # "visible", "all" or "cursor"
    label: str  # as offered in the dialog, with its row count
    positions: Sequence[int]
    # The `sync --status` that names exactly these rows (a whole unfiltered status view), if any.
    statuses: tuple[str, ...] = ()


def _sku_width(skus: Sequence[str]) -> int:
    return max(3, min(PLAN_SKU_CAP, max((len(inert(s)) for s in skus), default=3)))


def _table() -> Table:
    return Table(box=None, show_header=False, pad_edge=False, expand=True, padding=(0, 1, 0, 0))


def plan_head(the_plan: Plan, origin: str, guards: Sequence[str] = ()) -> RenderableType:
    """The plan's counts, where it comes from, and the guards' reasons."""
    head = Text()
    head.append(f"{len(the_plan.changes):,}", style="bold")
    head.append(f" change(s) to the {side_label(the_plan.target)}, ")
    head.append(f"{len(the_plan.refusals):,}", style="bold")
    head.append(f" refused, {the_plan.unchanged:,} already equal\n{origin}")
    parts: list[RenderableType] = [head]
    for reason in guards:
        warning = Text("Guard: ", style="bold reverse")
        warning.append(inert(reason))
        warning.append(" (writing asks for the change count typed)")
        parts.append(warning)
    return Group(*parts)


@dataclass(frozen=True, slots=True)
class PlanLine:
    """One line of the plan's list: a change or a refusal of a row (None: a heading)."""

    text: Text
    sku: str | None = None
    key: str = ""


def plan_lines(the_plan: Plan) -> list[PlanLine]:
    """The plan's changes, then its refusals, a line each (the first PLAN_LINES_SHOWN of each).
    Every SKU and reason is remote text: rich `Text`, made inert, never markup."""
    changes = the_plan.changes[:PLAN_LINES_SHOWN]
    refusals = the_plan.refusals[:PLAN_LINES_SHOWN]
    width = _sku_width([c.sku for c in changes] + [r.sku for r in refusals])
    lines: list[PlanLine] = []
    for change in changes:
        text = Text(f"{fit_middle(change.sku, width)} {change.field:<8} ", no_wrap=True)
        text.append(f"{inert(str(change.before))} → ")
        text.append(inert(str(change.after)), style="bold")
        lines.append(PlanLine(text, change.sku, change.key))
    if len(the_plan.changes) > PLAN_LINES_SHOWN:
        more = len(the_plan.changes) - PLAN_LINES_SHOWN
        lines.append(PlanLine(Text(f"… and {more:,} more changes")))
    if refusals:
        lines.append(PlanLine(Text("Refused", style="bold")))
    for refusal in refusals:
        text = Text(f"{fit_middle(refusal.sku, width)} {refusal.field or 'row':<8} ", no_wrap=True)
        text.append(inert(refusal.reason))
        lines.append(PlanLine(text, refusal.sku))
    if len(the_plan.refusals) > PLAN_LINES_SHOWN:
        more = len(the_plan.refusals) - PLAN_LINES_SHOWN
        lines.append(PlanLine(Text(f"… and {more:,} more refusals")))
    return lines


def plan_renderable(the_plan: Plan, origin: str, guards: Sequence[str] = ()) -> RenderableType:
    """The plan in words, as the dialog shows it: the head, then a line per change or refusal."""
    lines = [line.text for line in plan_lines(the_plan)]
    return Group(plan_head(the_plan, origin, guards), *lines)


def plan_text(the_plan: Plan, origin: str = "") -> str:
    """The plan as plain text (what the user reads), for tests and logs."""
    console = Console(width=200, file=io.StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(plan_renderable(the_plan, origin))
    return capture.get()


def undo_line(change: Change, width: int) -> Content:
    """One value an undo restores: plain text (the SKU is remote), never markup."""
    return Content(
        f"{fit_middle(change.sku, width)}  {change.field:<8} "
        f"{inert(str(change.before))} → {inert(str(change.after))}"
    )


def undo_renderable(the_plan: Plan, picked: int, pickable: bool) -> RenderableType:
    """What an undo restores (counts: the lines are listed above, to pick), then what it
    cannot restore, each reason whole (it wraps), never cut."""
    head = Text()
    head.append(f"{picked:,}", style="bold")
    head.append(f" of {len(the_plan.changes):,} value(s) to restore on the ")
    head.append(f"{side_label(the_plan.target)}")
    if pickable and the_plan.changes:
        head.append(" (space picks a line)")
    elif the_plan.changes:
        head.append(f" (over {UNDO_PICK_MAX:,} lines: undone whole)")
    parts: list[RenderableType] = [head]
    if the_plan.refusals:
        parts.append(Text(f"Cannot restore ({len(the_plan.refusals):,})", style="bold"))
        refusals = the_plan.refusals[:PLAN_LINES_SHOWN]
        width = _sku_width([r.sku for r in refusals])
        table = _table()
        table.add_column(width=width, no_wrap=True)
        table.add_column(width=8, no_wrap=True)
        table.add_column(ratio=1, overflow="fold")  # whole, at any width
        for refusal in refusals:
            table.add_row(
                Text(fit_middle(refusal.sku, width)),
                Text(refusal.field or "row"),
                Text(inert(refusal.reason)),
            )
        parts.append(table)
        if len(the_plan.refusals) > PLAN_LINES_SHOWN:
            more = len(the_plan.refusals) - PLAN_LINES_SHOWN
            parts.append(Text(f"… and {more:,} more (tui-sync undo --dry-run lists them)"))
    return Group(*parts)


class SyncDialog(ModalScreen[Plan | None]):
    BINDINGS = [  # noqa: RUF012
        Binding("escape", "cancel", "Cancel"),
        Binding("p", "show_plan", "Show plan"),
        Binding("b", "back", "Back"),
        Binding("a", "apply", "Apply…"),
        # Up / down from the buttons walk the plan's lines (the list keeps them once focused).
        Binding("up,down", "to_lines", "Plan lines", show=False),
        Binding("c", "copy_command", "Copy CLI", show=False),
        Binding("x", "export_plan", "Save plan", show=False),
    ]

    def __init__(
        self,
        pair: PairConfig,
        scopes: Sequence[Scope],
        load: Callable[[Sequence[int]], Iterable[Row]],
        capabilities: dict[Side, Capabilities],
        origin: str,
        fields: tuple[Field, ...] | None = None,
        default_scope: str | None = None,
        guard: Callable[[Plan], list[str]] | None = None,
        open_row: Callable[[str, str], None] | None = None,
        plan_path: Callable[[], Path] | None = None,
        reverse: Callable[[], Plan] | None = None,
    ) -> None:
        """`open_row(sku, key)` shows a row's detail; `plan_path()` the default plan file.
        `reverse` makes this the review of an undo: it builds the reverse plan (in a thread),
        and the dialog opens on it, with no choices to make."""
        super().__init__()
        self.open_row = open_row
        self.plan_path = plan_path
        self.lines: list[PlanLine] = []
        self.reverse = reverse
        self.stale = False
        self.pair = pair
        self.scopes = list(scopes)
        self.load = load
        self.capabilities = capabilities
        self.origin = origin
        self.default_fields = fields if fields is not None else tuple(pair.fields)
        self.default_scope = default_scope or (self.scopes[0].key if self.scopes else "")
        self.plan: Plan | None = None
        self.plan_origin = ""
        # The mass-change guards of `sync` and `auto` (guards.py), run with the plan.
        self.guard = guard
        self.guard_reasons: list[str] = []
        self.reviewing = False
        self._planning = 0  # which plan request is current: an older answer is dropped

    def compose(self) -> ComposeResult:
        default_target = other_side(self.pair.master)
        choices = [f for _, f in FIELD_CHOICES]
        fields = self.default_fields if self.default_fields in choices else ("quantity",)
        with Vertical(id="dialog"):
            what = "Undo on" if self.reverse is not None else "Sync"
            yield Label(Content(f"{what} pair {inert(self.pair.name)}"), id="dialog-title")
            yield Label(Content(self.origin), id="origin")
            if self.reverse is not None:
                yield Static("", id="warning")
                yield SelectionList[int](id="lines", compact=True)
                with VerticalScroll(id="plan"):
                    yield Static("", id="plan-text")
                yield from self._buttons()
                yield Footer()
                return
            with Horizontal(id="choices"):
                with Vertical():
                    yield Label("Rows (selected)")
                    with ChoiceSet(id="scope", compact=True):
                        for scope in self.scopes:
                            yield TextRadioButton(
                                Content(scope.label),
                                value=scope.key == self.default_scope,
                                name=scope.key,
                            )
                with Vertical():
                    yield Label("Update")
                    with ChoiceSet(id="target", compact=True):
                        for side in ("store", "backoffice"):
                            label = side_label(side).capitalize()
                            if side == self.pair.master:
                                label += " (master)"
                            yield TextRadioButton(label, value=side == default_target, name=side)
                with Vertical():
                    yield Label("Fields")
                    with ChoiceSet(id="fields", compact=True):
                        for label, choice in FIELD_CHOICES:
                            yield TextRadioButton(label, value=choice == fields, name=label)
            yield Static("", id="warning")
            with Vertical(id="plan"):
                yield Static("", id="plan-text")
                # A line per change or refusal: Enter opens that row's detail.
                yield OptionList(id="plan-lines")
                yield Static(PLAN_HINT, id="plan-hint")
            yield from self._buttons()
        yield Footer()

    def _buttons(self) -> ComposeResult:
        with Horizontal(id="buttons"):
            yield Button("Show plan (p)", id="show", variant="primary")
            yield Button("Back (b)", id="back")
            yield Button("Apply… (a)", id="apply", variant="warning")
            yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        if self.reverse is not None:
            self.query_one("#back").display = False  # nothing to go back to: Esc cancels
            self.action_show_plan()
            return
        self._set_mode(review=False)
        self._update_warning()
        self.query_one("#scope", RadioSet).focus()

    def _pressed_name(self, selector: str) -> str | None:
        pressed = self.query_one(selector, RadioSet).pressed_button
        return pressed.name if pressed is not None else None

    def _target(self) -> Side:
        return "backoffice" if self._pressed_name("#target") == "backoffice" else "store"

    def _fields(self) -> tuple[Field, ...]:
        return dict(FIELD_CHOICES)[self._pressed_name("#fields") or "Quantity"]

    def _scope(self) -> Scope:
        key = self._pressed_name("#scope")
        return next((s for s in self.scopes if s.key == key), self.scopes[0])

    def _update_warning(self) -> None:
        target = self._target()
        warning = self.query_one("#warning", Static)
        if target == self.pair.master:
            warning.update(
                Content.styled(
                    f"⚠ The {side_label(target)} is the master of this pair: this "
                    f"overwrites it with the {side_label(other_side(target))}'s values.",
                    "$text-warning bold",
                )
            )
        else:
            warning.update(
                f"The {side_label(target)} will take the "
                f"{side_label(other_side(target))}'s values (the master)."
            )
        self.query_one("#apply", Button).label = (
            "Apply to master… (a)" if target == self.pair.master else "Apply… (a)"
        )

    def _set_mode(self, review: bool) -> None:
        self.reviewing = review
        self.stale = False
        undo = self.reverse is not None
        if not undo:
            self.query_one("#choices").display = not review
            self.query_one("#back").display = review
        self.query_one("#plan").display = review
        self.query_one("#show").display = not review
        self.query_one("#apply").display = review
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The footer shows the keys of the step that is open, and only those work.
        reviewing = self.reviewing
        if action == "to_lines":
            return self.plan is not None and bool(self.lines)
        if action == "apply":
            return self.plan is not None
        if action in ("copy_command", "export_plan"):  # of a sync's plan; an undo has no scope
            return self.plan is not None and self.reverse is None
        if action == "back":
            return reviewing and self.reverse is None
        if action == "show_plan":
            return not reviewing or self.stale
        return True

    def mark_stale(self) -> None:
        """The cache changed under the plan on screen: it may no longer be what would run, so it
        cannot be applied until it is shown again (p)."""
        if not self.reviewing or self.stale:
            return
        self._planning += 1  # a plan still being made is made from the old cache too
        self.plan = None
        self.stale = True
        warning = self.query_one("#warning", Static)
        warning.update(Content.styled(STALE_TEXT, "$text-warning bold"))
        warning.display = True
        self.query_one("#apply", Button).disabled = True
        self.query_one("#show").display = True
        self.refresh_bindings()

    @on(RadioSet.Changed)
    def _choice_changed(self) -> None:
        self._update_warning()

    def action_show_plan(self) -> None:
        if self.reverse is not None:
            self.query_one("#plan-text", Static).update(Text("Planning the undo…"))
            self._set_mode(review=True)
            self.query_one("#warning", Static).display = False  # only to say it went stale
            self.query_one("#apply", Button).disabled = True
            self.query_one("#lines", SelectionList).clear_options()
            self.plan = None
            self._planning += 1
            self._undo_worker(self.reverse, self._planning)
            return
        # Planning reads every chosen row (all 123k of a select-all): in a thread, never on the
        # UI's; `load` opens its own cache connection there and streams the rows.
        target, scope, fields = self._target(), self._scope(), self._fields()
        planning = Text(f"Planning {len(scope.positions):,} row(s)…")
        self.query_one("#plan-text", Static).update(planning)
        self.lines = []
        self.query_one("#plan-lines", OptionList).clear_options().display = False
        self._set_mode(review=True)
        self._update_warning()
        self.query_one("#apply", Button).disabled = True
        self.query_one("#back", Button).focus()
        self.plan = None
        self._planning += 1
        self._plan_worker(target, scope, fields, self._planning)

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False)
    def _undo_worker(self, reverse: Callable[[], Plan], token: int) -> None:
        try:
            the_plan: Plan | str = reverse()
        except (SyncError, Unsettled, NothingToDo) as exc:
            the_plan = str(exc)
        self.app.call_from_thread(self._undo_planned, the_plan, token)

    def _undo_planned(self, the_plan: Plan | str, token: int) -> None:
        if token != self._planning or not self.reviewing:
            return
        lines = self.query_one("#lines", SelectionList)
        if isinstance(the_plan, str):  # nothing to undo, and why: one line, inert
            self.query_one("#plan-text", Static).update(Text(inert(the_plan)))
            lines.display = False
            return
        self.plan = the_plan
        self.plan_origin = self.origin
        pickable = len(the_plan.changes) <= UNDO_PICK_MAX
        lines.display = pickable and bool(the_plan.changes)
        if lines.display:
            width = _sku_width([c.sku for c in the_plan.changes])
            lines.add_options(
                Selection(undo_line(c, width), n, initial_state=True)
                for n, c in enumerate(the_plan.changes)
            )
            lines.highlighted = 0
            lines.focus()  # space picks lines; Enter only toggles one, it never writes
        else:
            self.query_one("#cancel", Button).focus()
        self._show_undo_head()
        self.query_one("#apply", Button).disabled = the_plan.is_empty
        self.refresh_bindings()

    def _picked(self) -> Plan | None:
        """The undo's plan with only the lines picked (all of them when it cannot be picked)."""
        if self.plan is None:
            return None
        lines = self.query_one("#lines", SelectionList)
        if not lines.display:
            return self.plan
        chosen = set(lines.selected)
        picked = [c for n, c in enumerate(self.plan.changes) if n in chosen]
        return replace(self.plan, changes=picked)

    def _show_undo_head(self) -> None:
        picked = self._picked()
        if self.plan is None or picked is None:
            return
        pickable = len(self.plan.changes) <= UNDO_PICK_MAX
        shown = undo_renderable(self.plan, len(picked.changes), pickable)
        self.query_one("#plan-text", Static).update(shown)

    @on(SelectionList.SelectedChanged, "#lines")
    def _lines_picked(self) -> None:
        self._show_undo_head()

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False)
    def _plan_worker(
        self, target: Side, scope: Scope, fields: tuple[Field, ...], token: int
    ) -> None:
        the_plan = plan(
            self.pair,
            self.load(scope.positions),
            target,
            fields,
            self.capabilities[target],
            self.capabilities[other_side(target)],
        )
        reasons = self.guard(the_plan) if self.guard and not the_plan.is_empty else []
        self.app.call_from_thread(self._planned, the_plan, scope, token, reasons)

    def _planned(self, the_plan: Plan, scope: Scope, token: int, reasons: list[str]) -> None:
        if token != self._planning or not self.reviewing:
            return  # the user went back (or planned again) meanwhile: this plan is stale
        self.plan = the_plan
        self.guard_reasons = reasons
        self.plan_origin = f"{scope.label} · {self.origin}"
        self.query_one("#plan-text", Static).update(plan_head(the_plan, self.plan_origin, reasons))
        self.lines = plan_lines(the_plan)
        options = self.query_one("#plan-lines", OptionList)
        options.set_options(Option(line.text, disabled=line.sku is None) for line in self.lines)
        options.display = bool(self.lines)
        self.query_one("#apply", Button).disabled = the_plan.is_empty
        self.refresh_bindings()  # `a Apply…` works from now on: the footer must say so
        # Focus on Back: a stray Enter (or an auto-repeated one) must never go on to write.
        self.query_one("#back", Button).focus()

    def action_back(self) -> None:
        self.plan = None
        self._set_mode(review=False)
        self.query_one("#scope", RadioSet).focus()

    def action_apply(self) -> None:
        shown = self.plan
        the_plan = self._picked() if self.reverse is not None else shown
        if the_plan is None or the_plan.is_empty:
            if shown is not None and not shown.is_empty:
                self.notify("No line picked: space picks the lines to restore", markup=False)
            return
        master = the_plan.target == self.pair.master

        def answered(write: bool | None) -> None:
            # Not if the plan went stale (or was made again) while the prompt was open.
            if write and self.plan is shown:
                self.dismiss(the_plan)

        prompt = ConfirmApply(the_plan, master, self.plan_origin, self.guard_reasons)
        self.app.push_screen(prompt, answered)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_to_lines(self) -> None:
        lines = self.query_one("#plan-lines", OptionList)
        lines.focus()
        if lines.highlighted is None:
            lines.highlighted = 0

    @on(OptionList.OptionSelected, "#plan-lines")
    def _line_chosen(self, event: OptionList.OptionSelected) -> None:
        line = self.lines[event.option_index]
        if line.sku is not None and self.open_row is not None:
            self.open_row(line.sku, line.key)

    def action_copy_command(self) -> None:
        """The `tui-sync sync` that makes this plan again, quoted for a POSIX shell."""
        if self.plan is None:
            return
        command, why_not = cli_command(self.pair.name, self.plan, self._scope())
        if command is None:
            self.notify(why_not, severity="warning", markup=False, timeout=8)
            return
        self.app.copy_to_clipboard(command)
        self.notify(f"Copied: {inert(command)}", markup=False, timeout=8)

    def action_export_plan(self) -> None:
        the_plan = self.plan
        if the_plan is None or self.plan_path is None:
            return
        path = self.plan_path()
        choice = ExportChoice("plan", f"This plan ({len(the_plan.changes):,} changes)", ("plan",))

        def chosen(request: ExportRequest | None) -> None:
            if request is not None:
                self._save_worker(the_plan, request.path)

        self.app.push_screen(ExportDialog([choice], {("plan", "plan"): path}), chosen)

    @work(thread=True, group="save-plan", exit_on_error=False)
    def _save_worker(self, the_plan: Plan, path: Path) -> None:
        try:
            export_plan(the_plan, path)
        except ExportError as exc:
            self.app.call_from_thread(
                self.notify, f"Not saved: {exc}", severity="error", markup=False, timeout=10
            )
            return
        said = f"Plan saved to {path.resolve()}; apply it later with: tui-sync sync --plan FILE"
        self.app.call_from_thread(self.notify, said, markup=False, timeout=10)


def cli_command(pair: str, the_plan: Plan, scope: Scope) -> tuple[str | None, str]:
    """`tui-sync sync --pair P --to T --fields F --sku A,B` (or `--status S` when the scope is a
    whole status view), each word quoted for a shell; or None and why it cannot be said."""
    words = ["tui-sync", "sync", "--pair", pair, "--to", the_plan.target]
    words += ["--fields", ",".join(the_plan.fields)]
    if scope.statuses:
        words += ["--status", ",".join(scope.statuses)]
    else:
        # The rows the plan writes or refuses; rows already equal would write nothing.
        skus = list(
            dict.fromkeys([*(c.sku for c in the_plan.changes), *(r.sku for r in the_plan.refusals)])
        )
        if not skus:
            return None, "Nothing to copy: every row is already equal"
        odd = [s for s in skus if "," in s or inert(s) != s or not s.strip()]
        if odd:
            return None, (
                f"{len(odd):,} SKU(s) hold a comma, a control character or only spaces: "
                "--sku cannot name them. Save the plan (x) and run `tui-sync sync --plan FILE`"
            )
        words += ["--sku", ",".join(skus)]
    command = shlex.join(words)
    if len(command.encode("utf-8")) > export.CLIPBOARD_LIMIT:
        return None, "The command is too long for the clipboard: save the plan (x) instead"
    return command, ""

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "show":
            self.action_show_plan()
        elif event.button.id == "apply":
            self.action_apply()
        elif event.button.id == "back":
            self.action_back()
        else:
            self.dismiss(None)
