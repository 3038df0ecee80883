import pytest

from welcomebot.app.watermark import SeqWatermark


def test_watermark_waits_for_the_oldest_in_flight():
    w = SeqWatermark()
    for s in (1, 2, 3):
        w.begin(s)
    assert w.safe == 0
    w.done(2)
    w.done(3)
    assert w.safe == 0, "3 is done but 1 is not: resuming from 3 would lose 1"
    w.done(1)
    assert w.safe == 3
    assert w.in_flight == 0


def test_gaps_do_not_hold_it_back():
    w = SeqWatermark(start=10)
    assert w.safe == 10
    w.begin(15)
    assert w.safe == 14
    w.done(15)
    assert w.safe == 15
    w.begin(20)
    w.begin(21)
    w.done(21)
    assert w.safe == 19
    w.done(20)
    assert w.safe == 21


def test_misuse_is_refused():
    w = SeqWatermark()
    w.begin(5)
    with pytest.raises(ValueError, match="began after"):
        w.begin(5)
    with pytest.raises(ValueError, match="not in flight"):
        w.done(4)
    w.done(5)
    with pytest.raises(ValueError, match="not in flight"):
        w.done(5)
