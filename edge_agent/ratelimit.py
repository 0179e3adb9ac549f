"""Token buckets by name: `per_minute` requests, refilled continuously, bursts up to the same number.

One limiter guards every way of testing an identity: a lookup spends from its kiosk's bucket
(`kiosk_bucket`); a check-in naming an appointment is refused while its kiosk's bucket or that
appointment's (`appointment_bucket`, shared by every kiosk) is empty, and a check-in whose identity does
not match spends from both. Guessing birth dates for one appointment is throttled whichever kiosks ask.
"""

from __future__ import annotations

import math
import time


def kiosk_bucket(kiosk_id: str) -> str:
    return f"kiosk\x00{kiosk_id}"


def appointment_bucket(appointment_id: str) -> str:
    return f"appointment\x00{appointment_id}"


class RateLimiter:
    def __init__(self, per_minute: int):
        self.capacity = float(per_minute)
        self.refill_per_s = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}

    def _tokens(self, who: str, now: float) -> float:
        tokens, last = self._buckets.get(who, (self.capacity, now))
        return min(self.capacity, tokens + (now - last) * self.refill_per_s)

    def take(self, who: str, now: float | None = None) -> float:
        """Spend one request for `who`: 0.0 when allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        tokens = self._tokens(who, now)
        if tokens >= 1.0:
            self._buckets[who] = (tokens - 1.0, now)
            return 0.0
        self._buckets[who] = (tokens, now)
        return (1.0 - tokens) / self.refill_per_s

    def wait(self, who: str, now: float | None = None) -> float:
        """The seconds until `who` may make a request (0.0: now), spending nothing."""
        tokens = self._tokens(who, time.monotonic() if now is None else now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.refill_per_s

    @staticmethod
    def retry_after_header(wait_s: float) -> str:
        return str(max(1, math.ceil(wait_s)))
