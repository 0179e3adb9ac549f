"""The HTML pages: staff sign-in, the dashboard (`/desk`), the audit log (`/desk/audit`, admins), and the
public lobby board (`/board`).

Pages are server-rendered shells (Jinja2) whose live parts are plain JavaScript over the JSON API and
server-sent events; static files are served from this package, nothing from a CDN, no build step.
The sign-in form is protected against CSRF with a double-submit cookie (there is no session yet).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import secrets
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Mapping

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from . import audit, texts
from ..config import SiteConfig
from ..dependencies import ConfigDep, StoreDep
from .auth import (
    LOGIN_PATH,
    SESSION_COOKIE,
    SignInRefused,
    StaffAuth,
    StaffAuthDep,
    StaffSession,
    check_csrf,
    check_origin,
    current_staff,
    request_source,
    require_staff_page,
)

HERE = Path(__file__).parent
STATIC_PATH = "/desk/static"
LOGIN_CSRF_COOKIE = "desk_login_csrf"
BOARD_WAITING_SHOWN = 8
BOARD_ROTATE_S = 8
AUDIT_PAGE_ENTRIES = 500
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # so the desk's own form posts carry an Origin (checked), others nothing
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
}

router = APIRouter()
templates = Jinja2Templates(directory=HERE / "templates")
static_files = StaticFiles(directory=HERE / "static")


def _page_text(request: Request, config: SiteConfig) -> tuple[str, Mapping[str, str]]:
    language = texts.choose_language(
        request.query_params.get("lang"), request.headers.get("accept-language", ""), config.site.languages
    )
    return language, texts.catalogue(config.translations_dir, language, config.site.default_language)


def _render(
    request: Request, config: SiteConfig, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:  # fmt: skip
    language, text = _page_text(request, config)
    response = templates.TemplateResponse(
        request, name, {"lang": language, "dir": texts.direction(language), "t": text, "clinic_name": config.site.name, **context}, status_code
    )
    response.headers.update(SECURITY_HEADERS)
    return response


@router.get(LOGIN_PATH, response_class=HTMLResponse)
async def login_page(request: Request, auth: StaffAuthDep, config: ConfigDep, notice: str | None = None) -> Response:
    if await current_staff(request, auth) is not None:
        return RedirectResponse("/desk", status_code=303)
    return _login_form(request, config, auth, notice)


def _login_form(
    request: Request, config: SiteConfig, auth: StaffAuth, notice: str | None, status_code: int = 200
) -> HTMLResponse:  # fmt: skip
    login_csrf = secrets.token_urlsafe(24)
    response = _render(request, config, "login.html", {"csrf_token": login_csrf, "notice": notice}, status_code)
    response.set_cookie(
        LOGIN_CSRF_COOKIE, login_csrf, httponly=True, samesite="strict",
        secure=auth.secure_cookies, path=LOGIN_PATH,
    )  # fmt: skip
    return response


@router.post(LOGIN_PATH)
async def login(
    request: Request,
    auth: StaffAuthDep,
    config: ConfigDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    check_origin(request, auth)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf_token):
        return _login_form(request, config, auth, "login.expired", status_code=403)
    try:
        session = await auth.sign_in(username, password, source=request_source(request))
    except SignInRefused as refused:
        page = _login_form(request, config, auth, f"login.{refused.reason}", status_code=refused.status)
        page.headers.update(refused.headers)
        return page
    response = RedirectResponse("/desk", status_code=303)
    response.set_cookie(value=session.token, **auth.cookie_options())
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    return response


@router.post("/desk/logout")
async def logout(request: Request, auth: StaffAuthDep) -> Response:
    """Sign out (CSRF-checked like every change); without a session it just shows the sign-in page."""
    session = await current_staff(request, auth)
    if session is not None:
        await check_csrf(request, session, auth)
        await auth.sign_out(session)
    response = RedirectResponse(f"{LOGIN_PATH}?notice=login.signed_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/desk", response_class=HTMLResponse)
async def dashboard(
    request: Request, staff: Annotated[StaffSession, Depends(require_staff_page)], config: ConfigDep
) -> Response:  # fmt: skip
    _language, text = _page_text(request, config)
    desk_config = {
        "username": staff.username,
        "role": staff.role,
        "csrf_token": staff.csrf_token,
        "idle_minutes": config.desk.session_idle_minutes,
        "timezone": config.site.timezone,
        "text": text,
    }
    return _render(request, config, "desk.html", {"staff": staff, "desk_config": desk_config})


@router.get("/desk/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request, staff: Annotated[StaffSession, Depends(require_staff_page)], config: ConfigDep, store: StoreDep
) -> Response:  # fmt: skip
    """The audit log as a page for admins (the dashboard shows the latest few)."""
    if not staff.is_admin:
        raise HTTPException(403, "administrators only")
    zone = zoneinfo.ZoneInfo(config.site.timezone)
    rows = [
        {"when": dt.datetime.fromtimestamp(entry.at, zone).strftime("%Y-%m-%d %H:%M:%S"), "actor": entry.actor,
         "action": entry.action, "subject": entry.subject,
         "detail": json.dumps(entry.detail, ensure_ascii=False) if entry.detail else ""}
        for entry in await audit.entries(store, limit=AUDIT_PAGE_ENTRIES)
    ]  # fmt: skip
    return _render(request, config, "audit.html", {"staff": staff, "rows": rows})


@router.get("/board", response_class=HTMLResponse)
async def board(request: Request, config: ConfigDep) -> Response:
    """Public: ticket numbers only. The page carries no patient data; its stream is the board channel.

    The board shows and speaks every site language: the requested (or browser's) one first, then the others
    in turn (`BOARD_ROTATE_S` each)."""
    first, _text = _page_text(request, config)
    order = [first, *(lang for lang in config.site.languages if lang != first)]
    catalogues = {
        lang: texts.board_catalogue(config.translations_dir, lang, config.site.default_language) for lang in order
    }
    board_config = {
        "timezone": config.site.timezone,
        "waiting_shown": BOARD_WAITING_SHOWN,
        "rotate_s": BOARD_ROTATE_S,
        "languages": [{"lang": lang, "text": catalogues[lang]} for lang in order],
    }
    response = _render(request, config, "board.html", {"t": catalogues[first], "board_config": board_config})
    # The lobby TV may play the chime without a click only if the browser allows it (kiosk flags).
    response.headers["Permissions-Policy"] = "autoplay=(self)"
    return response
