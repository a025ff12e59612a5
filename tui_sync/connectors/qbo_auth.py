"""OAuth 2.0 for QuickBooks Online: access tokens from the refresh token, and refresh-token
rotation that never loses access.

Follows Intuit's OAuth 2.0 flow as CONNECTORS.md 3.1 gathers it [S36]: `POST token_url` with
`Authorization: Basic base64(client_id:client_secret)` and the form `grant_type=refresh_token&
refresh_token=...`; the answer carries `access_token` (about an hour), `refresh_token` (which
may rotate: always keep the one returned) and `x_refresh_token_expires_in`.

Rotation is persisted before the new token is used: env and keyring secrets cannot be
rewritten, so the newest refresh token lives in `<data_dir>/tokens/<connection>.json` (mode
0600, written to a temporary file, fsynced, renamed over the old one, directory fsynced). Until
the rename the old file (or the configured token) is intact, so a crash or a failed save at
any point leaves a token that was valid a moment ago; the new access token is not used when
the save failed. The file also remembers a digest of the configured token it supersedes: when
the user puts a new refresh token in the config (a re-authorisation), the config wins again.
Access tokens stay in memory only. Tokens never reach the cache, a log line or an error.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import httpx

from tui_sync.config import Secret
from tui_sync.connectors.base import ConnectorError
from tui_sync.connectors.http import AuthFailed, redact

TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
CHECK = "check the connection's credentials (refresh token expired or revoked?)"
# Refresh a little before the documented expiry rather than meet a 401 mid-run.
EARLY_S = 120.0


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """The rotated refresh token of one connection, on disk, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, configured: str) -> str | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("replaces") != _digest(configured):
            return None  # the config names another token now: the user re-authorised
        token = data.get("refresh_token")
        return token if isinstance(token, str) and token else None

    def save(self, token: str, configured: str) -> None:
        folder = self.path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        body = json.dumps({"refresh_token": token, "replaces": _digest(configured)})
        fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                os.fchmod(file.fileno(), 0o600)
                file.write(body)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        with contextlib.suppress(OSError):  # the rename itself survives a power cut
            dir_fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


class OAuth:
    """Access tokens for one connection; one refresh at a time however many requests wait."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        name: str,
        token_url: str,
        client_id: Secret,
        client_secret: Secret,
        refresh_token: Secret,
        store: TokenStore,
    ) -> None:
        self.client = client
        self.name = name
        self.token_url = token_url
        self._client_id, self._client_secret = client_id, client_secret
        self._configured = refresh_token
        self.store = store
        self._access: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self._known: list[str] = []

    def secrets(self) -> list[str]:
        """Every secret value seen so far, for redaction (never revealed anywhere else)."""
        return [s for s in self._known if s] + ([self._access] if self._access else [])

    async def access_token(self) -> str:
        async with self._lock:
            if self._access is None or time.monotonic() >= self._expires:
                await self._refresh()
            assert self._access is not None
            return self._access

    def invalidate(self, token: str | None) -> None:
        """Forget an access token the API refused (a 401), unless it was already replaced."""
        if token is not None and token == self._access:
            self._access = None

    @property
    def current(self) -> str | None:
        return self._access

    async def _refresh(self) -> None:
        client_id = self._client_id.reveal()
        client_secret = self._client_secret.reveal()
        configured = self._configured.reveal()
        refresh = self.store.load(configured) or configured
        self._known = [client_id, client_secret, configured, refresh]
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        try:
            response = await self.client.post(
                self.token_url,
                data={"grant_type": "refresh_token", "refresh_token": refresh},
                headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise self._error(f"cannot reach the token endpoint ({type(exc).__name__})") from None
        if response.status_code in (400, 401, 403):
            said = ""
            with contextlib.suppress(ValueError, AttributeError):
                said = str(response.json().get("error", ""))[:40]
            what = (
                f"token refresh refused (HTTP {response.status_code}{' ' + said if said else ''})"
            )
            raise AuthFailed(self._line(f"{what}; {CHECK}")) from None
        if response.status_code >= 300:
            raise self._error(f"the token endpoint answered HTTP {response.status_code}; try again")
        try:
            data = response.json()
            access = data["access_token"]
            expires_in = float(data.get("expires_in", 3600))
            rotated = data.get("refresh_token") or refresh
        except (ValueError, KeyError, TypeError, AttributeError):
            raise self._error("the token endpoint's answer is not a token") from None
        if not isinstance(access, str) or not isinstance(rotated, str):
            raise self._error("the token endpoint's answer is not a token")
        self._known.append(rotated)
        if rotated != refresh:
            try:
                # Kept before anything uses the new access token (rotation may have retired
                # the old refresh token): if this fails, the run stops here.
                self.store.save(rotated, configured)
            except OSError as exc:
                raise self._error(
                    f"could not keep the rotated refresh token in {self.store.path.parent} "
                    f"({exc.strerror or type(exc).__name__}); stopped before using it, try again"
                ) from None
        self._access = access
        self._expires = time.monotonic() + max(0.0, expires_in - EARLY_S)

    def _line(self, what: str) -> str:
        return redact(f"{self.name}: {what}", self.secrets())

    def _error(self, what: str) -> ConnectorError:
        # An AuthError: nothing was sent with a token this refresh did not produce, and
        # nothing more can be until it works (the core stops the run, writes nothing).
        return AuthFailed(self._line(what))
