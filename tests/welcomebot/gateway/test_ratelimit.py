"""The 120-per-60-s send limit as a token bucket with room kept for heartbeats."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welcomebot.gateway.ratelimit import HEARTBEAT_RESERVE, SEND_LIMIT, SEND_WINDOW, SendLimiter


def test_ordinary_sends_stop_short_of_the_heartbeat_reserve() -> None:
    limiter = SendLimiter()
    sent = 0
    while limiter.acquire(0.0) == 0:
        sent += 1
    assert sent == SEND_LIMIT - HEARTBEAT_RESERVE
    assert limiter.available(0.0, heartbeat=True) == HEARTBEAT_RESERVE
    for _ in range(HEARTBEAT_RESERVE):
        assert limiter.acquire(0.0, heartbeat=True) == 0
    assert limiter.acquire(0.0, heartbeat=True) == pytest.approx(60.0)


def test_slots_free_up_as_sends_leave_the_window() -> None:
    limiter = SendLimiter()
    for i in range(SEND_LIMIT - HEARTBEAT_RESERVE):
        assert limiter.acquire(i * 0.1) == 0
    wait = limiter.acquire(20.0)
    assert wait == pytest.approx(40.0), "the first send leaves the window at 60 s"
    assert limiter.acquire(20.0 + wait) == 0
    assert limiter.available(1000.0) == SEND_LIMIT - HEARTBEAT_RESERVE


def test_never_more_than_120_in_any_60_seconds() -> None:
    limiter = SendLimiter()
    times: list[float] = []
    now = 0.0
    while len(times) < 600:
        wait = limiter.acquire(now, heartbeat=len(times) % 50 == 0)
        if wait == 0:
            times.append(now)
            now += 0.01
        else:
            assert wait > 0
            now += wait
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t < start + 60) <= SEND_LIMIT
    assert times[-1] < 60 * 600 / (SEND_LIMIT - HEARTBEAT_RESERVE), "and it does not wait needlessly"


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="send limit"):
        SendLimiter(limit=5, reserve=5)


@given(
    st.lists(st.tuples(st.floats(min_value=0, max_value=5, allow_nan=False), st.booleans()), min_size=1, max_size=400)
)
def test_any_schedule_stays_within_the_limit(schedule: list[tuple[float, bool]]) -> None:
    limiter = SendLimiter()
    now = 0.0
    sent: list[tuple[float, bool]] = []
    for gap, heartbeat in schedule:
        now += gap
        while (wait := limiter.acquire(now, heartbeat=heartbeat)) > 0:
            now += wait
        sent.append((now, heartbeat))
    for i, (start, _) in enumerate(sent):
        window = [hb for t, hb in sent[i:] if t < start + SEND_WINDOW]
        assert len(window) <= SEND_LIMIT
        assert sum(not hb for hb in window) <= SEND_LIMIT - HEARTBEAT_RESERVE
