"""How a check-in reaches a server, given what the server can do.

- "transaction": the whole check-in in one transaction Bundle.
- "split-transactions": ordered transactions of at most `max_entries` entries (one when it all fits):
  the arrival (Appointment patch + Encounter) first, then each consent with its provenance, then coverage
  and answers. A group never straddles two transactions.
- "individual": no transactions: each entry as its own conditional request (create with If-None-Exist,
  PATCH, PUT), in the same order.

Every part is idempotent on its own (conditional creates on identifiers derived from the check-in id, a
PATCH to `arrived`, a PUT to a derived id), and the outbox records which groups central confirmed, so a
crash between parts resends only the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..fhir_bundle import EntryGroup
from .capabilities import Capabilities

STRATEGIES = ("transaction", "split-transactions", "individual")
MIN_TRANSACTION_ENTRIES = 2  # the largest group: Appointment patch + Encounter, or Consent + Provenance
LOCATION = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]*)?/?$")


class StrategyRefused(Exception):
    """The site asks for a delivery strategy this server cannot do (or none is possible)."""


@dataclass(frozen=True)
class DeliveryPlan:
    strategy: str
    max_entries: int | None  # per transaction; None: no limit

    def describe(self) -> str:
        if self.strategy == "transaction":
            return "transaction (one transaction Bundle per check-in)"
        if self.strategy == "split-transactions":
            size = f"at most {self.max_entries} entries each" if self.max_entries else "one group each"
            return f"split-transactions (ordered transactions of {size}; one when it fits)"
        return "individual (conditional create with If-None-Exist, PATCH and PUT, one request per resource)"

    def parts(self, groups: list[EntryGroup]) -> list[list[EntryGroup]]:
        """The groups, in order, packed into the requests this plan sends (individual: one per group,
        whose entries then go one request each)."""
        if self.strategy == "transaction":
            return [groups] if groups else []
        if self.strategy == "individual" or self.max_entries is None:
            return [[group] for group in groups]
        packed: list[list[EntryGroup]] = []
        size = 0
        for group in groups:
            if packed and size + len(group.entries) <= self.max_entries:
                packed[-1].append(group)
                size += len(group.entries)
            else:
                packed.append([group])
                size = len(group.entries)
        return packed


def choose(capabilities: Capabilities, wanted: str = "auto") -> DeliveryPlan:
    """The plan for `wanted` ("auto" or a strategy name); StrategyRefused when the server cannot do it."""
    problems = []
    if not capabilities.conditional_create:
        problems.append(
            "the server does not announce conditional create for "
            f"{', '.join(capabilities.without_conditional_create)}; exactly-once delivery needs it"
            " (pin [central.capabilities] conditional_create = true if the server does support it)"
        )
    if not capabilities.patch:
        problems.append("the server does not announce JSON Patch on Appointment and Patient (arrival, address updates)")
    if problems:
        raise StrategyRefused("; ".join(problems))
    limit = capabilities.max_transaction_entries
    if wanted == "auto":
        if not capabilities.transactions:
            return DeliveryPlan("individual", None)
        wanted = "split-transactions" if limit else "transaction"
    if wanted in ("transaction", "split-transactions") and not capabilities.transactions:
        raise StrategyRefused(f"strategy {wanted!r}: the server does not support transactions; use 'individual' or 'auto'")
    if wanted == "transaction" and limit:
        raise StrategyRefused(
            f"strategy 'transaction': the server takes at most {limit} entries per transaction and a check-in with"
            " three forms and a card is 10; use 'split-transactions' or 'auto'"
        )
    if wanted == "split-transactions" and limit is not None and limit < MIN_TRANSACTION_ENTRIES:
        raise StrategyRefused(f"strategy 'split-transactions': {limit} entries per transaction is too few")
    if wanted not in STRATEGIES:
        raise StrategyRefused(f"unknown strategy {wanted!r}")
    return DeliveryPlan(wanted, limit if wanted == "split-transactions" else None)


def with_references(value: Any, resolved: dict[str, str]) -> Any:
    """`value` with every `reference` naming a resolved fullUrl replaced by the server's Type/id."""
    if isinstance(value, dict):
        return {
            key: resolved.get(item, item) if key == "reference" and isinstance(item, str) else with_references(item, resolved)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [with_references(item, resolved) for item in value]
    return value


def reference_of_location(location: object) -> str | None:
    """'Encounter/123' of a Location header or `response.location` (absolute, with or without _history)."""
    if not isinstance(location, str):
        return None
    match = LOCATION.search(location.split("?", 1)[0])
    return f"{match[1]}/{match[2]}" if match else None
