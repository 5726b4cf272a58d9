"""Writes made together (agent/store/group_commit.py): who is written with whom, each caller
answered with its own result or error, nothing dropped. No database: `write` records."""

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from agent.store.group_commit import GroupCommit

BOUND_S = 10.0


class StoreDown(ValueError):
    """No job's fault: the store cannot be reached."""


class Recorder:
    """A `write` that records each go and holds the first one until released."""

    def __init__(self) -> None:
        self.goes: list[list[str]] = []
        self.release = threading.Event()
        self.holding = threading.Event()

    def __call__(self, jobs: Sequence[str]) -> list[str]:
        if not self.goes:
            self.holding.set()
            assert self.release.wait(BOUND_S)
        self.goes.append(list(jobs))
        if "bad" in jobs:
            raise ValueError("bad job")
        if "down" in jobs:
            raise StoreDown("the store is down")
        return [f"done:{job}" for job in jobs]


def queued(group: GroupCommit[str, str], n: int) -> None:
    """Wait (bounded) until `n` jobs wait behind the write under way."""
    deadline = time.monotonic() + BOUND_S
    while len(group._queue) < n:
        assert time.monotonic() < deadline, "jobs never queued"
        time.sleep(0.005)


def behind_a_write(write: Recorder, jobs: tuple[str, ...]) -> dict[str, str]:
    """Job "a" written (and held) first, then `jobs` submitted from threads while it is, then
    released: each job's answer, or its error's text."""
    group: GroupCommit[str, str] = GroupCommit(write, name="test-writes", fails_all=(StoreDown,))
    first = threading.Thread(target=group.submit, args=("a",))
    first.start()
    assert write.holding.wait(BOUND_S)
    answers: dict[str, str] = {}

    def one(job: str) -> None:
        try:
            answers[job] = group.submit(job)
        except ValueError as exc:
            answers[job] = f"error:{exc}"

    threads = [threading.Thread(target=one, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    queued(group, len(jobs))
    write.release.set()
    for thread in [first, *threads]:
        thread.join(BOUND_S)
    group.close()
    return answers


def test_jobs_arriving_during_a_write_go_together_each_with_its_own_answer() -> None:
    write = Recorder()
    answers = behind_a_write(write, ("b", "c", "d", "e"))
    assert write.goes[0] == ["a"]
    assert sorted(write.goes[1]) == ["b", "c", "d", "e"] and len(write.goes) == 2
    assert answers == {job: f"done:{job}" for job in "bcde"}


def test_a_failing_job_fails_alone() -> None:
    write = Recorder()
    answers = behind_a_write(write, ("b", "bad", "c"))
    assert answers == {"b": "done:b", "bad": "error:bad job", "c": "done:c"}
    assert sorted(write.goes[1]) == ["b", "bad", "c"]  # tried together, then one by one
    assert sorted(map(tuple, write.goes[2:])) == [("b",), ("bad",), ("c",)]


def test_a_store_that_is_down_fails_the_whole_go_at_once() -> None:
    write = Recorder()
    answers = behind_a_write(write, ("b", "down", "c"))
    assert answers == dict.fromkeys(("b", "down", "c"), "error:the store is down")
    assert len(write.goes) == 2  # not tried again one by one


def test_coroutines_and_threads_share_the_writes_and_a_cancelled_wait_loses_nothing() -> None:
    write = Recorder()
    group: GroupCommit[str, str] = GroupCommit(write, name="test-writes")
    first = threading.Thread(target=group.submit, args=("a",))
    first.start()
    assert write.holding.wait(BOUND_S)

    async def storm() -> list[str]:
        waiting = [asyncio.create_task(group.submit_async(f"co{i}")) for i in range(20)]
        gone = asyncio.create_task(group.submit_async("gone"))
        await asyncio.sleep(0)
        await asyncio.to_thread(queued, group, 21)
        gone.cancel()  # its client left: its job is still written
        write.release.set()
        return await asyncio.wait_for(asyncio.gather(*waiting), BOUND_S)

    answers = asyncio.run(storm())
    first.join(BOUND_S)
    assert answers == [f"done:co{i}" for i in range(20)]
    group.close()  # writes whatever is queued before the writer stops
    written = [job for go in write.goes for job in go]
    assert sorted(written) == sorted(["a", "gone", *(f"co{i}" for i in range(20))])


def test_close_drains_and_a_later_submit_starts_again() -> None:
    write = Recorder()
    write.release.set()
    group: GroupCommit[str, str] = GroupCommit(write, name="test-writes")
    assert group.submit("a") == "done:a"
    group.close()
    assert group._thread is None
    assert group.submit("b") == "done:b"
    group.close()
    with pytest.raises(ValueError, match="bad job"):
        group.submit("bad")
    group.close()
