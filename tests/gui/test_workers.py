"""Workers: a core function on its own QThread; result, progress, failure and cancel become signals,
and the thread always ends."""
import threading

import pytest

from inspector.core.errors import ConfigError
from inspector.gui.workers import TaskRunner, running_threads


def test_result_and_progress_arrive_on_the_gui_thread(qtbot):
    runner = TaskRunner()
    seen, threads = [], []

    def fn(progress, cancel):
        threads.append(threading.current_thread())
        for i in range(3):
            progress(i)
        return 42

    got = []
    task = runner.run(fn, "t", on_progress=seen.append, on_result=got.append)
    with qtbot.waitSignal(task.finished, timeout=5000):
        pass
    assert got == [42] and seen == [0, 1, 2]
    assert threads[0] is not threading.main_thread()
    qtbot.waitUntil(lambda: not runner.tasks(), timeout=2000)


@pytest.mark.parametrize("error, expected", [
    (ConfigError("epochs must be a whole number from 1 to 10000"), "epochs must be a whole number from 1 to 10000"),
    (KeyError("boom"), "unexpected problem (KeyError)"),
])
def test_a_failure_is_one_line_and_the_thread_still_ends(qtbot, error, expected):
    runner = TaskRunner()

    def fn(progress, cancel):
        raise error

    errors = []
    task = runner.run(fn, "fails", on_error=errors.append)
    with qtbot.waitSignal(task.finished, timeout=5000):
        pass
    assert len(errors) == 1 and expected in errors[0] and "\n" not in errors[0] and "Traceback" not in errors[0]
    assert task.wait(2000)


def test_cancel_and_shutdown_end_every_thread(qtbot):
    runner = TaskRunner()
    started = threading.Event()

    def slow(progress, cancel):
        started.set()
        while True:
            cancel.check()
            cancel._event.wait(0.01)

    cancelled = []
    tasks = [runner.run(slow, f"slow{i}", on_cancel=lambda: cancelled.append(1)) for i in range(2)]
    assert started.wait(5)
    assert len(running_threads()) >= 2
    assert runner.shutdown(5.0)
    assert not any(t.is_running() for t in tasks) and not running_threads()
    qtbot.waitUntil(lambda: len(cancelled) == 2, timeout=2000)
