"""Token buckets per provider operation, so provider rate limits hold whatever the poll
settings and however many tasks are due (numbers from shared/providers/README.md)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens a second, up to ``burst`` saved; ``acquire`` waits for one."""

    def __init__(
        self, rate: float, burst: int = 1, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_time(self) -> float:
        """Seconds until a token is free (0 when one is free now)."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    async def acquire(self) -> None:
        async with self._lock:  # first come, first served
            wait = self.wait_time()
            if wait > 0:
                await asyncio.sleep(wait)
                self._refill()
            self._tokens -= 1


class RateLimits:
    """Buckets by ``provider.operation``; an operation with no limit passes at once."""

    def __init__(self, limits: dict[str, tuple[float, int]]) -> None:
        self._buckets = {name: TokenBucket(rate, burst) for name, (rate, burst) in limits.items()}

    async def acquire(self, name: str) -> None:
        bucket = self._buckets.get(name)
        if bucket is not None:
            await bucket.acquire()


#: Xiangji documents no limit. Paid calls (``TOLK_XIANGJI_SUBMIT_PER_SECOND``): 10 a second
#: per process by default — measured (``python -m bench.throughput --rates …``), one
#: process sustains about 70 one-image tasks a second against the emulator, so at 10 the
#: setting, not Tolk, is the limit, and a catalogue of 1,000 images goes in under two
#: minutes. Status reads stay at 5 a second (a call answers 50 ids, 200 for a catalogue).
XIANGJI_SUBMIT_PER_SECOND = 10.0
# Alibaba counts each action's calls per second and blocks the rest of the minute once
# over (Alibaba MT spec, 'Limits'): no burst, and a little under the limit so network jitter
# cannot put one call too many into a second.
PROVIDER_LIMITS: dict[str, tuple[float, int]] = {
    "xiangji.submit": (XIANGJI_SUBMIT_PER_SECOND, round(2 * XIANGJI_SUBMIT_PER_SECOND)),
    "xiangji.status": (5.0, 5),
    "alibaba.image.create": (2.8, 1),
    "alibaba.image.status": (2.8, 1),
    "alibaba.doc.create": (4.8, 1),
    "alibaba.doc.status": (4.8, 1),
    "mts": (95.0, 1),  # 100 per second per account, Submit and Query together
}


def provider_limits(xiangji_submit_per_second: float) -> dict[str, tuple[float, int]]:
    """``PROVIDER_LIMITS`` with Xiangji's submission rate as configured
    (``TOLK_XIANGJI_SUBMIT_PER_SECOND``), its burst two seconds' worth."""
    rate = xiangji_submit_per_second
    return {**PROVIDER_LIMITS, "xiangji.submit": (rate, max(1, round(2 * rate)))}
