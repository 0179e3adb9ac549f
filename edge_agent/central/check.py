"""`edge-agent central check` and the start-up check: what the FHIR server supports, which delivery
strategy and schedule scope follow, and what the site asks for that the server cannot do."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..config import SiteConfig
from .base import Connector
from .capabilities import Capabilities, CapabilitiesUnknown
from .schedule_scope import ScheduleScope
from .strategies import StrategyRefused, choose


@dataclass
class CheckResult:
    lines: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # what the site asks and the server cannot do
    unreachable: str = ""  # why the capabilities could not be read

    @property
    def ok(self) -> bool:
        return not self.refusals and not self.unreachable


async def check_central(config: SiteConfig, with_auth: bool = False) -> CheckResult:
    """`with_auth`: also get a token (or try the configured credentials) first, as `central check` does."""
    from . import connector_for
    from .fhir import FhirConnector

    result = CheckResult()
    if config.central.kind != "fhir":
        result.lines.append(f"central.kind = {config.central.kind!r}: nothing to check (FHIR servers only)")
        return result
    if with_auth:
        from .credentials import check_auth

        authenticated, line = await check_auth(config)
        result.lines.append(line)
        if not authenticated:
            result.refusals.append(f"central.auth: {line}")
    connector = connector_for(config)
    assert isinstance(connector, FhirConnector)  # central.kind is "fhir" (above)
    try:
        capabilities = await connector.capabilities()
    except CapabilitiesUnknown as exc:
        result.unreachable = f"{config.central.base_url}: {exc}"
        return result
    finally:
        await connector.aclose()
    result.lines += capabilities.describe()
    try:
        plan = choose(capabilities, config.central.capabilities.strategy)
        result.lines.append(f"delivery strategy: {plan.describe()}")
    except StrategyRefused as exc:
        result.refusals.append(f"central.capabilities.strategy: {exc}")
    if config.schedule.source == "central":
        scope = ScheduleScope.of(config)
        result.lines.append(f"schedule scope: {scope.describe()}")
        result.refusals += scope.problems(capabilities.appointment_search)
    return result


@runtime_checkable
class ReadsCapabilities(Protocol):
    """A connector that reads its server's capabilities (the FHIR one)."""

    async def capabilities(self) -> Capabilities: ...


class StartRefused(Exception):
    """The agent will not start: the site asks what its FHIR server cannot do."""


async def startup_refusals(config: SiteConfig, connector: Connector) -> list[str]:
    """For the agent's start, through its own connector (and credentials): what the server cannot do
    of what the site asks. Nothing when the server does not answer now (the outbox holds until it does)."""
    if config.central.kind != "fhir" or not isinstance(connector, ReadsCapabilities):
        return []
    try:
        capabilities = await connector.capabilities()
    except CapabilitiesUnknown:
        return []
    refusals = []
    try:
        choose(capabilities, config.central.capabilities.strategy)
    except StrategyRefused as exc:
        refusals.append(f"central.capabilities.strategy: {exc}")
    if config.schedule.source == "central":
        refusals += ScheduleScope.of(config).problems(capabilities.appointment_search)
    return refusals


def run_check(config: SiteConfig, with_auth: bool = False) -> CheckResult:
    return asyncio.run(check_central(config, with_auth))
