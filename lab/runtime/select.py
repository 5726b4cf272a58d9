"""Choosing a runtime backend by name."""

from typing import Literal, Protocol

from lab.paths import StatePaths
from lab.runtime.base import Runtime

RuntimeKind = Literal["local", "docker", "kubernetes"]


class RuntimeChoice(Protocol):
    """The settings every server that picks a backend has (`<PREFIX>_RUNTIME` and the rest)."""

    runtime: RuntimeKind
    docker_project: str | None
    kubernetes_namespace: str


def build_runtime(
    kind: RuntimeKind,
    *,
    paths: StatePaths,
    docker_project: str | None = None,
    kubernetes_namespace: str = "breakfix",
) -> Runtime:
    """`local`: the supervisor of the lab at `paths`; `docker`: labelled containers;
    `kubernetes`: labelled Deployments in `kubernetes_namespace` (in-cluster config, else
    the kubeconfig; loaded on first use)."""
    if kind == "docker":
        from lab.runtime.docker import DockerRuntime

        return DockerRuntime(project=docker_project, stream_stats=True)
    if kind == "kubernetes":
        from lab.runtime.kubernetes import KubernetesRuntime

        return KubernetesRuntime(namespace=kubernetes_namespace)
    from lab.runtime.local import LocalRuntime

    return LocalRuntime.from_state_dir(paths)


def runtime_for(settings: RuntimeChoice, paths: StatePaths) -> Runtime:
    """The backend a server's settings choose, for the lab at `paths`."""
    return build_runtime(
        settings.runtime,
        paths=paths,
        docker_project=settings.docker_project,
        kubernetes_namespace=settings.kubernetes_namespace,
    )
