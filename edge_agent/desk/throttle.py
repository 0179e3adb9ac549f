"""Sign-in throttling: failed attempts back off exponentially; nothing ever locks.

    throttle = SignInThrottle(free_attempts=5, backoff_s=2, max_s=900)
    wait = throttle.wait_s("admin", "10.1.2.3", known=True)   # 0.0: check the password now
    throttle.failed("admin", "10.1.2.3", known=True)  /  throttle.succeeded("admin", "10.1.2.3")

Three records count failures, each with its own free allowance, after which every further failure
doubles the wait before the next attempt is checked (backoff_s, 2x, 4x, ... up to max_s):

- (name, source): `free_attempts`. Kept for any name tried, so waits do not tell known names apart.
- source: SOURCE_FACTOR x free, whatever the names: bounds guessing many names from one address.
- account (known names only): ACCOUNT_FACTOR x free, from all sources together. It holds back only
  sources that failed on that account since their last success and never signed in to it: an attacker
  elsewhere slows down its own tries, never the real user's source.

After the wait the next attempt is checked as usual, so the right password works. A success clears the
(name, source) and source records. Every table is bounded (the least recently failed entry goes first)
and entries are forgotten once their wait is long over, so a flood cannot grow memory.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass
from typing import Callable, Hashable

SOURCE_FACTOR = 4
ACCOUNT_FACTOR = 4
MAX_ENTRIES = 10_000
FORGET_AFTER_WAITS = 4  # a record whose wait ended this many max waits ago starts over


@dataclass
class _Failures:
    count: int
    last: float


class _Table:
    """Failure records by key, bounded, least recently failed first out."""

    def __init__(self, free: int, backoff_s: float, max_s: float, clock: Callable[[], float]):
        self.free, self.backoff_s, self.max_s, self.clock = free, backoff_s, max_s, clock
        self._records: collections.OrderedDict[Hashable, _Failures] = collections.OrderedDict()

    def count(self, key: Hashable) -> int:
        record = self._live(key)
        return record.count if record else 0

    def wait_s(self, key: Hashable) -> float:
        record = self._live(key)
        if record is None or record.count < self.free:
            return 0.0
        doublings: int = 2 ** (record.count - self.free)  # never negative here: an int
        wait = min(self.max_s, self.backoff_s * doublings)
        return max(0.0, record.last + wait - self.clock())

    def fail(self, key: Hashable) -> None:
        record = self._live(key) or _Failures(0, 0.0)
        record.count += 1
        record.last = self.clock()
        self._records[key] = record
        self._records.move_to_end(key)
        while len(self._records) > MAX_ENTRIES:
            self._records.popitem(last=False)

    def clear(self, key: Hashable) -> None:
        self._records.pop(key, None)

    def _live(self, key: Hashable) -> _Failures | None:
        record = self._records.get(key)
        if record is not None and self.clock() - record.last > self.max_s * FORGET_AFTER_WAITS:
            del self._records[key]
            return None
        return record


class SignInThrottle:
    def __init__(self, free_attempts: int, backoff_s: float, max_s: float, clock: Callable[[], float] = time.monotonic):
        self.pairs = _Table(free_attempts, backoff_s, max_s, clock)
        self.sources = _Table(free_attempts * SOURCE_FACTOR, backoff_s, max_s, clock)
        self.accounts = _Table(free_attempts * ACCOUNT_FACTOR, backoff_s, max_s, clock)
        self._trusted: collections.OrderedDict[tuple[str, str], None] = collections.OrderedDict()

    def wait_s(self, name: str, source: str, *, known: bool) -> float:
        """Seconds before an attempt for `name` from `source` may be checked (0.0: now)."""
        waits = [self.pairs.wait_s((name, source)), self.sources.wait_s(source)]
        if known and self.pairs.count((name, source)) and (name, source) not in self._trusted:
            waits.append(self.accounts.wait_s(name))
        return max(waits)

    def failed(self, name: str, source: str, *, known: bool) -> None:
        self.pairs.fail((name, source))
        self.sources.fail(source)
        if known and (name, source) not in self._trusted:
            self.accounts.fail(name)

    def succeeded(self, name: str, source: str) -> None:
        self.pairs.clear((name, source))
        self.sources.clear(source)
        self._trusted[(name, source)] = None
        self._trusted.move_to_end((name, source))
        while len(self._trusted) > MAX_ENTRIES:
            self._trusted.popitem(last=False)
