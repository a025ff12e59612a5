"""Which side of a pair an error came from, and its state in a few words, for the console's
title and status lines ("store: auth failed (401): check the token and its scopes").

Every connector error names its connection first (`connections.NAME: ...`, the sandbox's
`sandbox store: ...`): that prefix is how an error is traced back to its side, wherever in a
refresh or a sync it was raised.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui_sync.config import ConfigError, PairConfig
from tui_sync.connectors.base import AuthError, ConnectorError
from tui_sync.connectors.http import AuthFailed, NoAnswer, NotSent, ServerError, Throttled
from tui_sync.model import SIDES, Side


@dataclass(frozen=True)
class SideFailure:
    side: Side
    state: str  # e.g. "auth failed (401): check the token and its scopes"


def _advice(text: str) -> str:
    """The 'what to do' tail of a connector's message ("...; check the token"), if any."""
    _, sep, tail = text.rpartition("; ")
    return tail if sep and tail.split(" ", 1)[0] in ("check", "try", "refresh", "wait") else ""


def side_failure(pair: PairConfig, error: BaseException) -> SideFailure | None:
    if not isinstance(error, ConnectorError | ConfigError):
        return None
    text = " ".join(str(error).split())
    for side in SIDES:
        connection = pair.store if side == "store" else pair.backoffice
        prefixes: tuple[str, ...] = (
            f"connections.{connection.name}:",
            f"connections.{connection.name}.",
        )
        if connection.kind == "sandbox":
            prefixes += (f"sandbox {side}:",)
        if text.startswith(prefixes):
            return SideFailure(side, _state(error, text.split(": ", 1)[-1]))
    return None


def _state(error: ConnectorError | ConfigError, said: str) -> str:
    advice = _advice(said)
    if isinstance(error, ConfigError):  # a secret that does not resolve in this process
        return f"config: {said}"
    if isinstance(error, AuthError):
        status = getattr(error, "status", None) if isinstance(error, AuthFailed) else None
        what = f"auth failed ({status})" if status else "auth failed"
        return f"{what}: {advice}" if advice else what
    if isinstance(error, NotSent):
        return "unreachable: check api_url and the network"
    if isinstance(error, Throttled):
        return f"throttled: try again in {error.retry_after:.0f} s"
    if isinstance(error, (NoAnswer, ServerError)):
        return "not answering: try again later"
    return f"failed: {said}"
