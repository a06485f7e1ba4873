"""The consumer's restarts as /healthz judges them: one now and then (a Redis outage) passes, a run of them fails,
and the check passes again once they are older than the window."""

from captionbot.worker.consumer import Restarts


def test_restarts_fail_the_check_only_while_they_come_often():
    now = [0.0]
    restarts = Restarts(limit=3, window_s=60, clock=lambda: now[0])
    restarts.record()
    now[0] = 30
    restarts.record()
    assert restarts.problem() is None
    restarts.record()
    assert restarts.problem() == "the job consumer lost its broker connection 3 times in 60 s"
    now[0] = 61
    assert restarts.problem() is None
