"""The front desk: staff sign-in, the audit log, the live arrivals dashboard and the lobby board."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def install(app: "FastAPI") -> None:
    """Add the staff API, the pages and their static files to the agent's app."""
    from . import pages, reprints, routes

    app.include_router(routes.router)
    app.include_router(reprints.router)
    app.include_router(pages.router)
    app.mount(pages.STATIC_PATH, pages.static_files, name="desk-static")
