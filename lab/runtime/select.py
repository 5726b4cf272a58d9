"""Choosing a runtime backend by name."""

from typing import Literal

from lab.paths import StatePaths
from lab.runtime.base import Runtime

RuntimeKind = Literal["local", "docker", "kubernetes"]


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
