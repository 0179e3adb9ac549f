"""Which addresses the zeroconf record announces."""

from __future__ import annotations

import ipaddress

from edge_agent.discovery import announced_addresses


def test_a_specific_listen_address_is_announced_alone() -> None:
    assert announced_addresses("127.0.0.1") == [ipaddress.ip_address("127.0.0.1").packed]
    assert announced_addresses("localhost") == [ipaddress.ip_address("127.0.0.1").packed]


def test_all_interfaces_announce_lan_addresses_never_loopback() -> None:
    for host in ("0.0.0.0", "::"):
        for packed in announced_addresses(host):
            address = ipaddress.ip_address(packed)
            assert not address.is_loopback and address.version == ipaddress.ip_address(host).version
