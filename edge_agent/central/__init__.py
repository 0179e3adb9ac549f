"""Connectors to the clinic's central system (EHR / practice management)."""

from __future__ import annotations

from ..config import SiteConfig
from ..store import Store
from .base import Connector, Delivery, ScheduleUnavailable


def connector_for(config: SiteConfig, store: Store | None = None) -> Connector:
    """The connector the site's `[central] kind` names; `store` holds the signed consents to send."""
    kind = config.central.kind
    if kind == "fhir":
        from .credentials import smart_key_dir
        from .fhir import FhirConnector
        from .schedule_scope import ScheduleScope

        connector = FhirConnector(
            config.central, store, key_dir=smart_key_dir(config), translations_dir=config.translations_dir
        )
        connector.configure_site(ScheduleScope.of(config), config.central.capabilities)
        return connector
    if kind == "hl7v2":
        from .hl7v2 import Hl7v2Connector

        return Hl7v2Connector(config.central, config.site.id)
    if kind == "none":
        from .none import NoCentral

        return NoCentral()
    raise ValueError(f"central.kind {kind!r} has no connector in this build")


__all__ = ["Connector", "Delivery", "ScheduleUnavailable", "connector_for"]
