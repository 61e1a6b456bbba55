"""Backoff.delay: exponential, equal jitter, clamped, and Retry-After wins when longer."""

from __future__ import annotations

import itertools

import pytest

from bot.core.backoff import Backoff

POLL = Backoff(minimum=2.0, maximum=60.0)


@pytest.mark.parametrize(
    ("attempt", "expected"),
    # ceiling = 2 * 2**attempt capped at 60; rand 0.5 gives 3/4 of the ceiling, at least 2
    [(0, 2.0), (1, 3.0), (2, 6.0), (3, 12.0), (4, 24.0), (5, 45.0), (6, 45.0), (20, 45.0)],
)
def test_delay_grows_exponentially_then_levels_off(attempt: int, expected: float) -> None:
    assert POLL.delay(attempt, 0.5) == pytest.approx(expected)


def test_each_step_doubles_until_the_maximum() -> None:
    delays = [POLL.delay(n, 0.5) for n in range(1, 5)]
    assert [b / a for a, b in itertools.pairwise(delays)] == pytest.approx([2, 2, 2])


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    # equal jitter: [ceiling/2, ceiling) for rand in [0, 1), never below the minimum
    [(0, 2.0, 2.0), (1, 2.0, 3.998), (2, 4.0, 7.996), (3, 8.0, 15.992), (9, 30.0, 59.97)],
)
def test_jitter_range(attempt: int, low: float, high: float) -> None:
    assert POLL.delay(attempt, 0.0) == pytest.approx(low)
    assert POLL.delay(attempt, 0.999) == pytest.approx(high)


def test_delay_is_monotonic_in_the_random_draw() -> None:
    draws = [i / 10 for i in range(10)]
    values = [POLL.delay(4, r) for r in draws]
    assert values == sorted(values)
    assert len(set(values)) == len(values)


@pytest.mark.parametrize("attempt", [0, 1, 2, 5, 10, 31, 32, 33, 500, 10_000])
@pytest.mark.parametrize("rand", [0.0, 0.25, 0.5, 0.999])
def test_delay_stays_within_minimum_and_maximum(attempt: int, rand: float) -> None:
    value = POLL.delay(attempt, rand)
    assert 2.0 <= value <= 60.0


def test_huge_attempts_do_not_overflow() -> None:
    assert Backoff(minimum=1.0, maximum=1e9).delay(10**6, 0.0) == pytest.approx(
        min(1e9, 2.0**32) / 2
    )


def test_minimum_wins_over_half_the_ceiling() -> None:
    # attempt 0 with minimum 5: ceiling 5, jitter would give 2.5 — clamped up to 5
    assert Backoff(minimum=5.0, maximum=100.0).delay(0, 0.0) == 5.0


def test_other_factor() -> None:
    b = Backoff(minimum=1.0, maximum=1000.0, factor=3.0)
    assert b.delay(3, 0.0) == pytest.approx(13.5)  # ceiling 27
    assert b.delay(3, 0.5) == pytest.approx(20.25)


def test_retry_after_wins_when_larger() -> None:
    assert POLL.delay(0, 0.0, retry_after=30.0) == 30.0
    assert POLL.delay(3, 0.999, retry_after=17.0) == 17.0


def test_retry_after_beats_the_maximum() -> None:
    # a provider's or Slack's Retry-After is honoured even past the poll maximum
    assert POLL.delay(10, 0.999, retry_after=120.0) == 120.0


def test_computed_delay_wins_over_a_smaller_retry_after() -> None:
    assert POLL.delay(3, 0.5, retry_after=1.0) == pytest.approx(12.0)
    assert POLL.delay(3, 0.5, retry_after=0.0) == pytest.approx(12.0)


def test_retry_after_none_is_ignored() -> None:
    assert POLL.delay(2, 0.5, retry_after=None) == POLL.delay(2, 0.5)
