"""The target's cache tmpfs: mounted at run, reused after a crash, unmounted at down."""

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from breakfix.background import BackgroundLab, lab_environment, make_state_dir, remove_state_dir
from lab.cache_volume import (
    MOUNTS,
    cache_budget,
    is_lab_mount,
    mount_cache,
    unmount_all_under,
    unmount_cache,
    volume_size,
)
from lab.paths import StatePaths
from lab.run_state import load

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
MIB = 2**20


def mounts_at(path: Path) -> list[str]:
    return [line for line in MOUNTS.read_text().splitlines() if line.split()[1] == str(path)]


def size_of(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_blocks * stat.f_frsize


@pytest.fixture
def state() -> Iterator[Path]:
    path = make_state_dir("breakfix-volume-")
    try:
        yield path
    finally:
        remove_state_dir(path)
        assert not mounts_at(path / "cache")


def test_mount_resize_and_unmount(state: Path) -> None:
    point = state / "cache"
    assert mount_cache(point, budget_bytes=4 * MIB)
    assert is_lab_mount(point) and size_of(point) == volume_size(4 * MIB) == 5 * MIB
    assert mount_cache(point, budget_bytes=16 * MIB)  # already there: resized, not stacked
    assert len(mounts_at(point)) == 1 and size_of(point) == 18 * MIB
    assert unmount_cache(point) and not is_lab_mount(point)
    assert not unmount_cache(point)  # twice: nothing to do


def test_disabled_means_no_mount(state: Path) -> None:
    assert not mount_cache(state / "cache", budget_bytes=MIB, enabled=False)
    assert not mounts_at(state / "cache")


def test_other_mounts_are_never_unmounted(state: Path) -> None:
    point = state / "cache"
    point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "someone-else", str(point)], check=True
    )
    try:
        assert not is_lab_mount(point)
        assert not unmount_cache(point)
        assert unmount_all_under(state) == []
        assert len(mounts_at(point)) == 1
    finally:
        subprocess.run(["umount", str(point)], check=True)


def test_remove_state_dir_unmounts_first() -> None:
    state = make_state_dir("breakfix-volume-")
    point = state / "cache" / "target"
    assert mount_cache(point, budget_bytes=MIB)
    (point / "price-X.json").write_text("{}")
    remove_state_dir(state)
    assert not mounts_at(point) and not state.exists()


def test_budget_from_the_env() -> None:
    assert cache_budget({"TARGET_CACHE_MAX_BYTES": "1024"}) == 1024
    assert cache_budget({}) == 64 * MIB
    assert cache_budget({"TARGET_CACHE_MAX_BYTES": "lots"}) == 64 * MIB


@pytest.mark.slow
def test_run_mounts_a_crash_leaves_it_the_next_run_reuses_it_and_down_removes_it() -> None:
    state_dir = make_state_dir("breakfix-volume-lab-")
    env = {**lab_environment(state_dir), "BREAKFIX_CACHE_TMPFS": "true"}
    point = StatePaths.at(state_dir).target_cache
    lab = BackgroundLab(state_dir, env)
    try:
        lab.start()
        assert is_lab_mount(point) and size_of(point) == volume_size(64 * MIB)
        _kill_supervisor(lab)
        assert is_lab_mount(point)  # nothing ran to unmount it
        lab.start()  # the leftover mount is reused: still exactly one
        assert len(mounts_at(point)) == 1
        _kill_supervisor(lab)
        lab.cli("down")
        assert not mounts_at(point)
    finally:
        if lab.proc is not None and lab.proc.poll() is None:
            lab.down()
        remove_state_dir(state_dir)


def _kill_supervisor(lab: BackgroundLab) -> None:
    run = load(StatePaths.at(lab.state_dir).supervisor_state)
    assert run is not None and lab.proc is not None and run.pid == lab.proc.pid
    os.kill(run.pid, signal.SIGKILL)
    lab.proc.wait(timeout=30)
