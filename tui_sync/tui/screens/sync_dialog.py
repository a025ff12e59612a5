"""The sync dialog: pick the side to update and the fields, review the plan, confirm."""

from __future__ import annotations

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, RadioButton, RadioSet, Static

from tui_sync.config import PairConfig
from tui_sync.model import Capabilities, Field, Plan, Row, Side, other_side, side_label
from tui_sync.sync import plan

# The choices offered for fields, as sellers name them.
FIELD_CHOICES: tuple[tuple[str, tuple[Field, ...]], ...] = (
    ("Quantity", ("quantity",)),
    ("Price", ("price",)),
    ("Both", ("quantity", "price")),
    ("Cost", ("cost",)),
)
PLAN_LINES_SHOWN = 400


def plan_text(the_plan: Plan) -> str:
    """The plan in words: what changes from what to what, and what is refused and why."""
    lines = [
        f"[b]{len(the_plan.changes):,}[/b] change(s) to the {side_label(the_plan.target)}, "
        f"[b]{len(the_plan.refusals):,}[/b] refused, {the_plan.unchanged:,} already equal"
    ]
    for change in the_plan.changes[:PLAN_LINES_SHOWN]:
        lines.append(
            f"  {escape(change.sku):<22} {change.field:<8} {change.before} → [b]{change.after}[/b]"
        )
    if len(the_plan.changes) > PLAN_LINES_SHOWN:
        lines.append(f"  … and {len(the_plan.changes) - PLAN_LINES_SHOWN:,} more changes")
    if the_plan.refusals:
        lines.append("[b]Refused[/b]")
    for refusal in the_plan.refusals[:PLAN_LINES_SHOWN]:
        what = refusal.field or "row"
        lines.append(f"  [$warning]{escape(refusal.sku):<22} {what:<8} {escape(refusal.reason)}[/]")
    if len(the_plan.refusals) > PLAN_LINES_SHOWN:
        lines.append(f"  … and {len(the_plan.refusals) - PLAN_LINES_SHOWN:,} more refusals")
    return "\n".join(lines)


class SyncDialog(ModalScreen[Plan | None]):
    BINDINGS = [  # noqa: RUF012
        Binding("escape", "cancel", "Cancel"),
        Binding("p", "show_plan", "Plan", show=False),
        Binding("b", "back", "Back", show=False),
    ]

    def __init__(
        self, pair: PairConfig, rows: list[Row], capabilities: dict[Side, Capabilities]
    ) -> None:
        super().__init__()
        self.pair = pair
        self.rows = rows
        self.capabilities = capabilities
        self.plan: Plan | None = None

    def compose(self) -> ComposeResult:
        default_target = other_side(self.pair.master)
        policy = tuple(self.pair.fields)
        with Vertical(id="dialog"):
            yield Label(f"[b]Sync {len(self.rows):,} row(s)[/b] of pair {self.pair.name}")
            yield Label(
                "[dim]Tab next · ↑↓ Enter choose · p plan · b back · Esc cancel[/]", id="keys"
            )
            with Horizontal(id="choices"):
                with Vertical():
                    yield Label("Update")
                    with RadioSet(id="target"):
                        for side in ("store", "backoffice"):
                            label = side_label(side).capitalize()
                            if side == self.pair.master:
                                label += " (master)"
                            yield RadioButton(label, value=side == default_target, name=side)
                with Vertical():
                    yield Label("Fields")
                    with RadioSet(id="fields"):
                        for label, fields in FIELD_CHOICES:
                            yield RadioButton(
                                label,
                                value=fields == policy
                                or (
                                    label == "Quantity"
                                    and policy not in [f for _, f in FIELD_CHOICES]
                                ),
                                name=label,
                            )
            yield Static("", id="warning")
            with VerticalScroll(id="plan"):
                yield Static("", id="plan-text")
            with Horizontal(id="buttons"):
                yield Button("Show plan", id="show", variant="primary")
                yield Button("Apply", id="apply", variant="warning")
                yield Button("Back", id="back")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._set_mode(review=False)
        self._update_warning()
        self.query_one("#target", RadioSet).focus()

    def _target(self) -> Side:
        pressed = self.query_one("#target", RadioSet).pressed_button
        return "backoffice" if pressed is not None and pressed.name == "backoffice" else "store"

    def _fields(self) -> tuple[Field, ...]:
        pressed = self.query_one("#fields", RadioSet).pressed_button
        chosen = pressed.name if pressed is not None else "Quantity"
        return dict(FIELD_CHOICES)[chosen or "Quantity"]

    def _update_warning(self) -> None:
        target = self._target()
        warning = self.query_one("#warning", Static)
        if target == self.pair.master:
            warning.update(
                f"[$warning]⚠ The {side_label(target)} is the master of this pair: this "
                f"overwrites it with the {side_label(other_side(target))}'s values.[/]"
            )
        else:
            warning.update(
                f"The {side_label(target)} will take the "
                f"{side_label(other_side(target))}'s values (the master)."
            )
        self.query_one("#apply", Button).label = (
            "Apply to master" if target == self.pair.master else "Apply"
        )

    def _set_mode(self, review: bool) -> None:
        self.query_one("#choices").display = not review
        self.query_one("#plan").display = review
        self.query_one("#show").display = not review
        self.query_one("#apply").display = review
        self.query_one("#back").display = review

    @on(RadioSet.Changed)
    def _choice_changed(self) -> None:
        self._update_warning()

    def action_show_plan(self) -> None:
        target = self._target()
        self.plan = plan(
            self.pair,
            self.rows,
            target,
            self._fields(),
            self.capabilities[target],
            self.capabilities[other_side(target)],
        )
        self.query_one("#plan-text", Static).update(plan_text(self.plan))
        self._set_mode(review=True)
        apply_button = self.query_one("#apply", Button)
        apply_button.disabled = self.plan.is_empty
        (apply_button if not self.plan.is_empty else self.query_one("#back", Button)).focus()

    def action_back(self) -> None:
        self.plan = None
        self._set_mode(review=False)
        self.query_one("#target", RadioSet).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "show":
            self.action_show_plan()
        elif event.button.id == "apply" and self.plan is not None:
            self.dismiss(self.plan)
        elif event.button.id == "back":
            self.action_back()
        else:
            self.dismiss(None)
