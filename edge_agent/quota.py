"""How many of something (connections, board streams) may be open at once, in all and from one source."""

from __future__ import annotations

import collections
from dataclasses import dataclass


@dataclass(frozen=True)
class Quota:
    total: int
    per_source: int


class QuotaCount:
    """What is open now under a `Quota` (None: no limit); `take` refuses beyond it, `give_back` frees one."""

    def __init__(self, quota: Quota | None):
        self.quota = quota
        self.total = 0
        self._by_source: collections.Counter[str] = collections.Counter()

    def take(self, source: str) -> bool:
        if self.quota is not None and (
            self.total >= self.quota.total or self._by_source[source] >= self.quota.per_source
        ):
            return False
        self.total += 1
        self._by_source[source] += 1
        return True

    def give_back(self, source: str) -> None:
        self.total -= 1
        self._by_source[source] -= 1
        if self._by_source[source] <= 0:
            del self._by_source[source]
