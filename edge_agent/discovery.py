"""Zeroconf (DNS-SD) advertisement of the agent as `_clinic-checkin._tcp.local.`.

TXT records: `site` (site id), `api` (API version), `tls` ("1"/"0"), `fp` (SHA-256 of the TLS
certificate, empty without TLS). It advertises only on the interface the agent listens on: a loopback
agent (tests, demo) stays on loopback. The instance is `<site id>._clinic-checkin._tcp.local.`: a kiosk
takes only its own site's announcement (kiosk/agent_client.py `discover`), and still trusts only the
agent it was enrolled with.
"""

from __future__ import annotations

import ipaddress
import logging

import ifaddr
from zeroconf import InterfaceChoice, InterfacesType, IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from .config import SiteConfig
from lobby_core.contract import API_VERSION, SERVICE_TYPE

log = logging.getLogger(__name__)


def announced_addresses(host: str) -> list[bytes]:
    """The listen address; for 0.0.0.0 / ::, every non-loopback address of that family on this machine."""
    address = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    if not address.is_unspecified:
        return [address.packed]
    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            value = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            candidate = ipaddress.ip_address(value.split("%")[0])
            if candidate.version == address.version and not candidate.is_loopback and not candidate.is_link_local:
                found.append(candidate.packed)
    return found


def service_info(config: SiteConfig, port: int, tls_fingerprint: str) -> AsyncServiceInfo:
    return AsyncServiceInfo(
        SERVICE_TYPE,
        f"{config.site.id}.{SERVICE_TYPE}",
        addresses=announced_addresses(config.agent.host),
        port=port,
        properties={"site": config.site.id, "api": API_VERSION, "tls": "1" if config.uses_tls else "0",
                    "fp": tls_fingerprint},
        server=f"{config.site.id}-agent.local.",
    )  # fmt: skip


class Advertisement:
    def __init__(self, config: SiteConfig, port: int, tls_fingerprint: str = ""):
        self.config = config
        self.info = service_info(config, port, tls_fingerprint)
        self.zeroconf: AsyncZeroconf | None = None

    async def start(self) -> None:
        host = "127.0.0.1" if self.config.agent.host == "localhost" else self.config.agent.host
        address = ipaddress.ip_address(host)
        interfaces: InterfacesType = InterfaceChoice.All if address.is_unspecified else [host]
        version = IPVersion.V6Only if address.version == 6 else IPVersion.V4Only
        self.zeroconf = AsyncZeroconf(interfaces=interfaces, ip_version=version)
        registration = await self.zeroconf.async_register_service(self.info)
        await registration
        log.info("advertising on zeroconf", extra={"service": self.info.name, "listen": host})

    async def stop(self) -> None:
        if self.zeroconf is None:
            return
        try:
            await self.zeroconf.async_unregister_all_services()
        finally:
            await self.zeroconf.async_close()
            self.zeroconf = None
