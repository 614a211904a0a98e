"""The one deadline type every budgeted operation is given."""

from __future__ import annotations

import math
import time

import pytest

from tamp.deadline import Deadline


def test_a_deadline_counts_down_and_expires():
    d = Deadline(0.2)
    assert 0.1 < d.left() <= 0.2 and not d.expired()
    assert d.cap(5.0) <= 0.2 and d.cap(0.01) == 0.01
    time.sleep(0.25)
    assert d.expired() and d.left() == 0.0 and d.cap(5.0) == 0.0


def test_never_and_infinity_are_no_deadline_and_nan_is_refused():
    for d in (Deadline(), Deadline(None), Deadline(math.inf)):
        assert d.never and d.left() == math.inf and not d.expired() and d.cap(3.0) == 3.0
    with pytest.raises(ValueError, match="NaN"):
        Deadline(math.nan)


def test_within_takes_the_earlier():
    outer = Deadline(10.0)
    assert outer.within(1.0).left() <= 1.0
    assert outer.within(100.0) is outer
    assert outer.within(None) is outer
    assert Deadline().within(2.0).left() <= 2.0


def test_earlier_keeps_the_sooner_and_ignores_none_and_never():
    soon, late, never = Deadline(1.0), Deadline(50.0), Deadline()
    assert soon.earlier(late) is soon and late.earlier(soon) is soon
    assert late.earlier(None) is late and late.earlier(never) is late
    assert never.earlier(late) is late
