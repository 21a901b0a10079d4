"""The run's clock: phases, stoppers, sub-budgets, and kernel calls waited for or left in the background."""

import math
import threading
import time

from pjpart.budget import PHASES, BackgroundCalls, Budget


def test_without_a_time_limit_nothing_ends():
    b = Budget(None, finish_share=0.5)
    assert not b.limited and b.time_limit is None
    for phase in PHASES:
        assert b.remaining(phase) == math.inf
        assert not b.expired(phase) and not b.expired(phase, margin=1e12)
        assert b.stopper(phase) is None
    assert b.within(None).remaining() == math.inf and not b.within(None).limited
    assert 1.9 < b.within(2.0).remaining() <= 2.0  # a sub-budget of a budget without a clock has one
    assert b.elapsed() >= 0


def test_the_search_ends_before_finishing_by_the_finish_share():
    b = Budget(10.0, finish_share=0.25)
    assert b.limited and PHASES == ("search", "finish")
    assert 7.4 < b.remaining("search") <= 7.5 and 9.9 < b.remaining("finish") <= 10.0
    assert abs(b.remaining() - b.remaining("search")) < 0.01  # the default phase
    assert not b.expired() and b.expired(margin=8.0) and not b.expired("finish", margin=8.0)
    assert b.stopper()() is False and b.stopper("finish")() is False
    assert 9.9 < Budget(10.0).remaining("search") <= 10.0  # no finish share: both phases end together
    # started 0.6 s ago with a 1 s limit, half kept for finishing: searching is over, finishing is not
    late = Budget(1.0, finish_share=0.5, start=time.perf_counter() - 0.6)
    assert late.expired() and late.remaining() < 0 and late.stopper()() is True
    assert not late.expired("finish") and late.stopper("finish")() is False
    assert 0.3 < late.remaining("finish") <= 0.4 and late.elapsed() >= 0.6


def test_within_is_at_most_the_time_given_and_ends_by_the_finish():
    calls = BackgroundCalls()
    b = Budget(10.0, finish_share=0.5, calls=calls)
    short = b.within(2.0)
    assert short.limited and 1.9 < short.remaining() <= 2.0 and short.calls is calls
    capped = b.within(100.0)  # never past this budget's finish, though its search ends at 5 s
    assert 9.9 < capped.remaining() <= 10.0 and capped.remaining() <= b.remaining("finish") + 1e-3
    assert 9.9 < b.within(None).remaining() <= 10.0
    spent = Budget(1.0, start=time.perf_counter() - 2.0).within(5.0)
    assert spent.time_limit == 0.0 and spent.expired()


def test_call_runs_here_without_a_time_limit_and_in_a_worker_with_one():
    here = threading.get_ident()
    b = Budget(None)
    assert b.call(lambda: (threading.get_ident(), 42)) == (True, (here, 42))
    assert not b.abandoned
    limited = Budget(30.0)
    ok, (thread, value) = limited.call(lambda: (threading.get_ident(), "quick"))
    assert ok and value == "quick" and thread != here and not limited.abandoned
    limited.close()


def test_a_call_that_outlasts_the_limit_is_left_running_and_remembered():
    calls = BackgroundCalls()
    assert calls.settle(0.0)  # nothing pending
    ended = threading.Event()

    def slow():
        time.sleep(0.5)
        ended.set()
        return "late"

    b = Budget(0.1, calls=calls)
    t = time.perf_counter()
    assert b.call(slow) == (False, None)
    assert time.perf_counter() - t < 0.45 and b.abandoned and not ended.is_set()
    assert calls.settle(0) is False  # still running, remembered
    assert calls.settle(None) is True and ended.is_set()
    assert calls.settle(0) is True  # forgotten once it ended
    b.close()


def test_the_next_run_waits_for_calls_left_running_before_its_first_call():
    calls = BackgroundCalls()
    done = []

    def slow():
        time.sleep(0.4)
        done.append("slow")
        return 1

    first = Budget(0.05, calls=calls)
    assert first.call(slow) == (False, None) and first.abandoned
    hurried = Budget(0.05, calls=calls)  # its search ends before the earlier call does
    ran = []
    assert hurried.call(lambda: ran.append(1)) == (False, None) and ran == []
    patient = Budget(10.0, calls=calls)
    assert patient.call(lambda: list(done)) == (True, ["slow"])  # ran after the earlier call ended
    assert not patient.abandoned and calls.settle(0)
    for b in (first, hurried, patient):
        b.close()


def test_a_started_call_is_waited_for_later_and_left_when_the_search_ends():
    b = Budget(0.3, finish_share=0.0)
    quick = b.start_call(lambda: 7)
    assert b.wait(quick) == (True, 7)
    release = threading.Event()
    slow = b.start_call(lambda: release.wait(5))
    assert b.wait(slow) == (False, None) and b.abandoned
    assert not b.calls.settle(0.0)
    release.set()
    assert b.calls.settle(5.0)
    assert Budget(None).wait(Budget(None).start_call(lambda: 3)) == (True, 3)
