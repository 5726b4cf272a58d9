"""Choosing a runtime backend by name."""

from typing import Literal

from lab.paths import StatePaths
from lab.runtime.base import Runtime


def build_runtime(
    kind: Literal["local", "docker"], *, paths: StatePaths, docker_project: str | None = None
) -> Runtime:
    """`local`: the supervisor of the lab at `paths`; `docker`: labelled containers."""
    if kind == "docker":
        from lab.runtime.docker import DockerRuntime

        return DockerRuntime(project=docker_project, stream_stats=True)
    from lab.runtime.local import LocalRuntime

    return LocalRuntime.from_state_dir(paths)
