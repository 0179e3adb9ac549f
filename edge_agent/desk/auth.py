"""Staff accounts and sign-in for the front desk.

- Passwords are argon2id hashes (argon2-cffi), checked one at a time in a worker thread (VERIFY_CONCURRENCY)
  with a short queue (VERIFY_QUEUE, and at most SOURCE_IN_FLIGHT per source), so a flood of sign-ins
  cannot take the CPU from check-ins. Failures back off (edge_agent.desk.throttle: per account and source,
  per source, per account) and never lock: after the wait the right password works. Failed attempts are
  audited as one counted summary per period (audit.FailedSignIns), never with the names tried.
- Sessions live on the server (table `staff_sessions`); the browser holds only a random token in a
  cookie that is HttpOnly, SameSite=Strict, and Secure when the agent speaks TLS. A session unused for
  `session_idle_minutes` is over.
- Every state-changing request carries the session's CSRF token (synchronizer token) in the
  `X-CSRF-Token` header or a `csrf_token` form field, and comes from a page of the agent itself: its
  `Origin` (or, without one, its `Referer`) is the agent's own origin or one of `desk.origins`. Else 403.

Routes elsewhere protect themselves with the FastAPI dependencies `require_staff` and `require_admin`
(401 for APIs) or `require_staff_page` (303 to the sign-in page):

    from edge_agent.desk.auth import StaffSession, require_staff
    @router.get("/api/v1/consents/{consent_id}/pdf")
    async def consent_pdf(consent_id: str, staff: StaffSession = Depends(require_staff)): ...
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import math
import re
import secrets
import sqlite3
import time
import urllib.parse
from dataclasses import dataclass
from typing import Annotated, Literal, TypedDict

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request, status

from ..config import DeskSection
from ..dependencies import get_staff_auth
from ..problems import ProblemError
from ..store import Store
from . import audit
from .throttle import SignInThrottle

Role = Literal["front_desk", "admin"]
ROLES: tuple[Role, ...] = ("front_desk", "admin")
SESSION_COOKIE = "desk_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
BACKGROUND_HEADER = "X-Desk-Background"
LOGIN_PATH = "/desk/login"
MIN_PASSWORD_LENGTH = 8
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOUCH_EVERY_S = 15.0  # how stale last_seen_at may get before a request refreshes it
VERIFY_CONCURRENCY = 1  # argon2 checks at once: each uses several threads' worth of CPU for ~0.1 s
VERIFY_QUEUE = 16  # attempts waiting for a check; beyond, "wait" (429) without checking
SOURCE_IN_FLIGHT = 2  # attempts of one source being checked or waiting at once

_hasher = PasswordHasher()
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class StaffError(ValueError):
    """An account that cannot be created as asked; the message says why."""


@dataclass(frozen=True)
class StaffSession:
    username: str
    role: Role
    csrf_token: str
    token: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class SignInRefused(Exception):
    """`invalid` (401): wrong name or password. `wait` (429): too many failures or attempts at once;
    `retry_after_s` says when the next attempt will be checked."""

    def __init__(self, reason: Literal["invalid", "wait"], retry_after_s: float = 0.0):
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s

    @property
    def status(self) -> int:
        return 429 if self.reason == "wait" else 401

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(self.retry_after_s)))} if self.reason == "wait" else {}


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- accounts ------------------------------------------------------------------------------------


def validate_new_staff(username: str, password: str, role: str) -> None:
    if not USERNAME_PATTERN.match(username):
        raise StaffError("username: 2-32 characters, lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise StaffError(f"role: must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"password: at least {MIN_PASSWORD_LENGTH} characters")


def create_staff(store: Store, username: str, password: str, role: Role, *, actor: str = "cli") -> None:
    """Create a staff account, or reset the password and role of an existing one (ending its sessions)."""
    validate_new_staff(username, password, role)
    password_hash = _hasher.hash(password)
    now = time.time()

    def work(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO staff(username, password_hash, role, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash,"
            " role = excluded.role, failed_attempts = 0, locked_until = 0, disabled = 0",
            (username, password_hash, role, now),
        )
        conn.execute("DELETE FROM staff_sessions WHERE username = ?", (username,))
        audit.record(conn, actor, "staff.create", username, {"role": role})

    store.write_sync(work)


# --- sign-in and sessions ------------------------------------------------------------------------


class CookieOptions(TypedDict):
    """The session cookie's settings, as `Response.set_cookie` takes them."""

    key: str
    httponly: bool
    samesite: Literal["strict"]
    secure: bool
    path: str


class StaffAuth:
    def __init__(self, store: Store, settings: DeskSection, *, secure_cookies: bool):
        self.store = store
        self.settings = settings
        self.secure_cookies = secure_cookies
        self.throttle = SignInThrottle(settings.signin_free_attempts, settings.signin_backoff_s, settings.signin_backoff_max_s)
        self.failures = audit.FailedSignIns(store, settings.signin_summary_s)
        self._verifying = asyncio.Semaphore(VERIFY_CONCURRENCY)
        self._queued = 0
        self._in_flight: collections.Counter[str] = collections.Counter()

    @property
    def idle_s(self) -> float:
        return self.settings.session_idle_minutes * 60.0

    async def sign_in(self, username: str, password: str, source: str = "-") -> StaffSession:
        """A new session for a correct password, unless `source` must wait first; else SignInRefused."""
        username = username.strip().lower()
        row = await self.store.read(
            lambda c: c.execute("SELECT password_hash, role, disabled FROM staff WHERE username = ?", (username,)).fetchone()
        )
        account = username if row is not None else None  # None: not an account; never stored
        wait_s = self.throttle.wait_s(username, source, known=account is not None)
        if not wait_s and (self._in_flight[source] >= SOURCE_IN_FLIGHT or self._queued >= VERIFY_QUEUE):
            wait_s = 1.0
        if wait_s:
            self.failures.add(source, account, throttled=True)
            raise SignInRefused("wait", wait_s)
        password_ok = await self._verify_bounded(row["password_hash"] if row else _DUMMY_HASH, password, source)
        if row is None or row["disabled"] or not password_ok:
            self.throttle.failed(username, source, known=account is not None)
            self.failures.add(source, account)
            raise SignInRefused("invalid")
        self.throttle.succeeded(username, source)
        if _hasher.check_needs_rehash(row["password_hash"]):
            new_hash = await asyncio.to_thread(_hasher.hash, password)
        else:
            new_hash = row["password_hash"]
        session = StaffSession(username, row["role"], secrets.token_urlsafe(32), secrets.token_urlsafe(32))
        now = time.time()

        def work(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE staff SET password_hash = ? WHERE username = ?", (new_hash, username))
            conn.execute("DELETE FROM staff_sessions WHERE last_seen_at < ?", (now - self.idle_s,))
            conn.execute(
                "INSERT INTO staff_sessions(token_hash, username, csrf_token, created_at, last_seen_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (_token_hash(session.token), username, session.csrf_token, now, now),
            )
            audit.record(conn, username, "signin", username)

        await self.store.write(work)
        return session

    async def _verify_bounded(self, password_hash: str, password: str, source: str) -> bool:
        """argon2 in a worker thread, VERIFY_CONCURRENCY at a time (the event loop keeps serving)."""
        self._queued += 1
        self._in_flight[source] += 1
        try:
            async with self._verifying:
                return await asyncio.to_thread(self._verify, password_hash, password)
        finally:
            self._queued -= 1
            self._in_flight[source] -= 1
            if self._in_flight[source] <= 0:
                del self._in_flight[source]

    @staticmethod
    def _verify(password_hash: str, password: str) -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def session_for(self, token: str | None, *, touch: bool = True) -> StaffSession | None:
        """The live session behind a cookie token, or None. An idle session ends here."""
        if not token:
            return None
        key = _token_hash(token)
        row = await self.store.read(
            lambda c: c.execute(
                "SELECT s.username, s.csrf_token, s.last_seen_at, t.role, t.disabled"
                " FROM staff_sessions s JOIN staff t USING (username) WHERE s.token_hash = ?",
                (key,),
            ).fetchone()
        )
        if row is None:
            return None
        now = time.time()
        if row["disabled"] or now - row["last_seen_at"] > self.idle_s:
            await self.store.write(lambda conn: self._expire(conn, key, row["username"]))
            return None
        if touch and now - row["last_seen_at"] > TOUCH_EVERY_S:
            await self.store.write(
                lambda conn: conn.execute("UPDATE staff_sessions SET last_seen_at = ? WHERE token_hash = ?", (now, key))
            )
        return StaffSession(row["username"], row["role"], row["csrf_token"], token)

    @staticmethod
    def _expire(conn: sqlite3.Connection, key: str, username: str) -> None:
        if conn.execute("DELETE FROM staff_sessions WHERE token_hash = ?", (key,)).rowcount:
            audit.record(conn, username, "signout.idle", username)

    async def sign_out(self, session: StaffSession) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM staff_sessions WHERE token_hash = ?", (_token_hash(session.token),))
            audit.record(conn, session.username, "signout", session.username)

        await self.store.write(work)

    def cookie_options(self) -> CookieOptions:
        return {
            "key": SESSION_COOKIE,
            "httponly": True,
            "samesite": "strict",
            "secure": self.secure_cookies,
            "path": "/",
        }


# --- FastAPI dependencies ------------------------------------------------------------------------


# The agent's one StaffAuth (its throttle and failure summary live for the process), built by the
# composition root (edge_agent/app.py).
StaffAuthDep = Annotated[StaffAuth, Depends(get_staff_auth)]


async def current_staff(request: Request, auth: StaffAuthDep) -> StaffSession | None:
    """The request's session. A page's own background refresh (BACKGROUND_HEADER) does not count as
    activity, so an unattended dashboard still signs out after the idle time."""
    touch = request.headers.get(BACKGROUND_HEADER) != "1"
    return await auth.session_for(request.cookies.get(SESSION_COOKIE), touch=touch)


def request_source(request: Request) -> str:
    return request.client.host if request.client else "-"


def _origin_of(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


def check_origin(request: Request, auth: StaffAuth) -> None:
    """403 unless the request comes from a page of the agent itself: its Origin (or, without one, its
    Referer) must be the origin the request was addressed to (scheme + Host) or one of desk.origins."""
    host = request.headers.get("host", "")
    allowed = {f"{request.url.scheme}://{host}".lower(), *(o.rstrip("/").lower() for o in auth.settings.origins)}
    origin = request.headers.get("origin")
    sent = origin.lower() if origin is not None else _origin_of(request.headers.get("referer", ""))
    if not host or sent not in allowed:
        raise ProblemError(403, "cross_origin", "This change must come from the desk's own pages (Origin or Referer).")


async def check_csrf(request: Request, session: StaffSession, auth: StaffAuth) -> None:
    if request.method in SAFE_METHODS:
        return
    check_origin(request, auth)
    sent: object = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = (await request.form()).get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")


async def require_staff(request: Request, auth: StaffAuthDep) -> StaffSession:
    """API guard: a signed-in staff member (401 otherwise) and, on changes, a valid CSRF token (403)."""
    session = await current_staff(request, auth)
    if session is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "staff sign-in required")
    await check_csrf(request, session, auth)
    return session


async def require_admin(request: Request, auth: StaffAuthDep) -> StaffSession:
    session = await require_staff(request, auth)
    if not session.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "administrators only")
    return session


async def require_staff_page(request: Request, auth: StaffAuthDep) -> StaffSession:
    """Page guard: without a session, a 303 to the sign-in page."""
    session = await current_staff(request, auth)
    if session is None:
        raise HTTPException(status.HTTP_303_SEE_OTHER, "sign in first", headers={"Location": LOGIN_PATH})
    return session
