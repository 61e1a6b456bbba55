"""The poller's tick survives a store that fails to claim: nothing is claimed, the
failure is a one-line warning, and the next tick claims as usual."""

from __future__ import annotations

import logging

from bot.engine.poller import Poller


class FlakyStore:
    def __init__(self) -> None:
        self.calls = 0

    async def claim_due(self, now: float, **_: object) -> list:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionResetError("the database went away")
        return []


class NoWork:
    def poll_key(self, task: object) -> None:
        return None

    async def prepare(self, tasks: object) -> None:
        return None


async def test_a_failed_claim_is_a_warning_and_the_next_tick_claims_again(caplog) -> None:
    store = FlakyStore()
    poller = Poller(store, NoWork(), clock=lambda: 100.0)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="bot.engine.poller"):
        assert await poller.tick() == 0
        assert await poller.tick() == 0
    assert store.calls == 2
    (record,) = caplog.records
    assert "could not claim" in record.getMessage() and record.exc_info is None
