"""The `kubernetes` runtime backend: each lab service is a Deployment labelled `breakfix.service`.

Built on the official client (`kubernetes` on PyPI). Tested only against a stub API server
(tests/lab/test_runtime_kubernetes.py), never against a real cluster. Importing this module
needs no cluster: configuration is loaded on first use.

A service's pods carry the same label as its Deployment (deploy/k8s/base). Its port, URL and
kind come from the Deployment's annotations `breakfix.port`, `breakfix.url`, `breakfix.kind`.
"""

import builtins
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError as Urllib3Error

from lab.errors import LabError, UnknownServiceError
from lab.runtime.models import Health, ProcessStats, ServiceStatus, SignalName

SERVICE_LABEL = "breakfix.service"
PORT_ANNOTATION = "breakfix.port"
URL_ANNOTATION = "breakfix.url"
KIND_ANNOTATION = "breakfix.kind"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
METRICS_GROUP, METRICS_VERSION = "metrics.k8s.io", "v1beta1"

_CPU_UNITS = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0}
_MEMORY_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
}


class KubernetesRuntimeError(LabError):
    """The Kubernetes API was unreachable, misconfigured or refused a call."""

    code = "kubernetes_error"


class KubernetesForbiddenError(KubernetesRuntimeError):
    """The API refused the call for lack of permission (RBAC, HTTP 401/403)."""

    status_code, code = 403, "kubernetes_forbidden"


class MetricsUnavailableError(KubernetesRuntimeError):
    """The cluster serves no metrics.k8s.io API (metrics-server is not installed)."""

    status_code, code = 503, "no_metrics_api"


class PodNotRunningError(KubernetesRuntimeError):
    """The call needs a running pod and the service has none."""

    status_code, code = 409, "not_running"


class SignalNotSupportedError(LabError):
    """Kubernetes delivers no arbitrary signal to a container; only SIGKILL (pod delete)."""

    status_code, code = 400, "signal_not_supported"


def cpu_cores(quantity: str) -> float:
    """A Kubernetes CPU quantity ("250m", "1200000n", "2") in cores."""
    match = re.fullmatch(r"([0-9.]+)([numk]?)", quantity)
    if match is None or match.group(2) == "k":
        raise KubernetesRuntimeError(f"unreadable CPU quantity {quantity!r}")
    return float(match.group(1)) * _CPU_UNITS[match.group(2)]


def memory_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity ("64Mi", "1500k", "1024") in bytes."""
    match = re.fullmatch(r"([0-9]+)([kMG]i?|Ki)?", quantity)
    if match is None or (match.group(2) or "") not in _MEMORY_UNITS:
        raise KubernetesRuntimeError(f"unreadable memory quantity {quantity!r}")
    return int(match.group(1)) * _MEMORY_UNITS[match.group(2) or ""]


def _pod_ready(pod: Any) -> bool:
    conditions = pod.status.conditions or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def _exit_code(pods: builtins.list[Any]) -> int | None:
    """The exit code of the latest terminated container among the pods, if any."""
    for pod in pods:
        for container in pod.status.container_statuses or []:
            last = container.last_state.terminated if container.last_state else None
            if last is not None:
                return int(last.exit_code)
    return None


class KubernetesRuntime:
    """Find and control the lab's Deployments through the Kubernetes API."""

    def __init__(
        self,
        *,
        api_client: k8s.ApiClient | None = None,
        namespace: str = "breakfix",
        log_container: str | None = None,
    ) -> None:
        self._api_client = api_client
        self._namespace = namespace
        self._log_container = log_container

    def close(self) -> None:
        """Close the API connection pool, if one was opened."""
        if self._api_client is not None:
            self._api_client.close()

    @contextmanager
    def _api(self, action: str) -> Iterator[None]:
        """Turn the client's failures into the lab's errors, naming what was attempted."""
        try:
            yield
        except ApiException as exc:
            reason = f"{action}: HTTP {exc.status} {exc.reason}"
            if exc.status == 404:
                raise UnknownServiceError(f"{reason} (not found)") from exc
            if exc.status in (401, 403):
                raise KubernetesForbiddenError(
                    f"{reason} (check the service account's RBAC)"
                ) from exc
            raise KubernetesRuntimeError(reason) from exc
        except (Urllib3Error, OSError) as exc:
            raise KubernetesRuntimeError(f"{action}: API server unreachable ({exc})") from exc

    def _client(self) -> k8s.ApiClient:
        """The API client, configured on first use (in-cluster, else ~/.kube/config)."""
        if self._api_client is None:
            try:
                k8s_config.load_incluster_config()
            except ConfigException:
                try:
                    k8s_config.load_kube_config()
                except (ConfigException, OSError) as exc:
                    raise KubernetesRuntimeError(f"no cluster configuration: {exc}") from exc
            self._api_client = k8s.ApiClient()
        return self._api_client

    def _apps(self) -> k8s.AppsV1Api:
        return k8s.AppsV1Api(self._client())

    def _core(self) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self._client())

    def _deployment(self, service: str) -> Any:
        """The one Deployment labelled for `service`."""
        selector = f"{SERVICE_LABEL}={service}"
        with self._api(f"list deployments labelled {selector}"):
            found = self._apps().list_namespaced_deployment(
                self._namespace, label_selector=selector
            )
        if not found.items:
            raise UnknownServiceError(
                f"no deployment labelled {selector} in namespace {self._namespace}"
            )
        return found.items[0]

    def _pods(self, service: str) -> builtins.list[Any]:
        selector = f"{SERVICE_LABEL}={service}"
        with self._api(f"list pods labelled {selector}"):
            found = self._core().list_namespaced_pod(self._namespace, label_selector=selector)
        return builtins.list(found.items)

    def _running_pod(self, service: str) -> Any:
        """A running pod of the service, a ready one first."""
        running = [p for p in self._pods(service) if p.status.phase == "Running"]
        if not running:
            raise PodNotRunningError(f"{service} has no running pod")
        return max(running, key=_pod_ready)

    def _status(self, deployment: Any) -> ServiceStatus:
        """The ServiceStatus of a Deployment and its pods."""
        meta = deployment.metadata
        service = meta.labels[SERVICE_LABEL]
        notes: dict[str, str] = meta.annotations or {}
        pods = self._pods(service)
        ready = [p for p in pods if p.status.phase == "Running" and _pod_ready(p)]
        health: Health
        if not deployment.spec.replicas or not pods:
            health = "stopped"
        else:
            health = "healthy" if ready else "unhealthy"
        started = [p.status.start_time for p in ready if p.status.start_time]
        port = notes.get(PORT_ANNOTATION, "")
        return ServiceStatus(
            name=service,
            kind=notes.get(KIND_ANNOTATION, "http"),
            pid=None,  # a pod's PID is not visible through the API
            port=int(port) if port.isdigit() else 0,
            url=notes.get(URL_ANNOTATION, ""),
            health=health,
            uptime_s=round((datetime.now(UTC) - min(started)).total_seconds(), 3)
            if started
            else None,
            restarts=sum(
                c.restart_count for p in pods for c in (p.status.container_statuses or [])
            ),
            restart_policy="always",  # a Deployment replaces every pod that exits
            last_exit_code=_exit_code(pods),
        )

    def _set_replicas(self, service: str, replicas: int) -> Any:
        """Patch the Deployment's scale subresource; the Deployment as read before."""
        deployment = self._deployment(service)
        with self._api(f"scale {service} to {replicas}"):
            self._apps().patch_namespaced_deployment_scale(
                deployment.metadata.name, self._namespace, {"spec": {"replicas": replicas}}
            )
        deployment.spec.replicas = replicas
        return deployment

    def list(self) -> builtins.list[ServiceStatus]:
        """Every labelled Deployment with its health."""
        with self._api(f"list deployments labelled {SERVICE_LABEL}"):
            found = self._apps().list_namespaced_deployment(
                self._namespace, label_selector=SERVICE_LABEL
            )
        by_name = {d.metadata.labels[SERVICE_LABEL]: d for d in found.items}
        return [self._status(by_name[name]) for name in sorted(by_name)]

    def status(self, service: str) -> ServiceStatus:
        """One service with its health."""
        return self._status(self._deployment(service))

    def start(self, service: str) -> ServiceStatus:
        """Scale a stopped (zero-replica) service back to one; a no-op for a running one."""
        deployment = self._deployment(service)
        if deployment.spec.replicas:
            return self._status(deployment)
        return self._status(self._set_replicas(service, 1))

    def stop(self, service: str) -> ServiceStatus:
        """Scale the service to zero; Kubernetes stops its pods gracefully."""
        return self._status(self._set_replicas(service, 0))

    def restart(self, service: str) -> ServiceStatus:
        """A rollout restart, as `kubectl rollout restart` does: stamp the pod template."""
        deployment = self._deployment(service)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        with self._api(f"restart {service}"):
            self._apps().patch_namespaced_deployment(
                deployment.metadata.name, self._namespace, body
            )
        return self._status(deployment)

    def signal(self, service: str, sig: SignalName) -> ServiceStatus:
        """SIGKILL deletes one running pod (grace 0); any other signal is refused."""
        if sig != "SIGKILL":
            raise SignalNotSupportedError(
                f"cannot send {sig} to {service}: the Kubernetes API delivers no signals; "
                "only SIGKILL is supported, as a pod delete with no grace period"
            )
        pod = self._running_pod(service)
        with self._api(f"delete pod {pod.metadata.name} of {service}"):
            self._core().delete_namespaced_pod(
                pod.metadata.name, self._namespace, grace_period_seconds=0
            )
        return self.status(service)

    def scale(self, service: str, replicas: int) -> builtins.list[ServiceStatus]:
        """Set the Deployment's replica count."""
        if replicas < 0:
            raise LabError(f"cannot scale {service} to {replicas}: replicas must be >= 0")
        return [self._status(self._set_replicas(service, replicas))]

    def stats(self, service: str) -> ProcessStats:
        """CPU and memory of one running pod, from metrics.k8s.io (no threads or files there)."""
        pod = self._running_pod(service)
        name = pod.metadata.name
        objects = k8s.CustomObjectsApi(self._client())
        try:
            with self._api(f"read metrics of pod {name}"):
                sample: dict[str, Any] = objects.get_namespaced_custom_object(
                    METRICS_GROUP, METRICS_VERSION, self._namespace, "pods", name
                )
        except UnknownServiceError as exc:
            raise MetricsUnavailableError(
                f"no metrics API for {service}: metrics.k8s.io answered 404 for pod {name} "
                "(is metrics-server installed?)"
            ) from exc
        containers = sample.get("containers") or []
        return ProcessStats(
            pid=0,  # not visible through the API
            cpu_percent=round(sum(cpu_cores(c["usage"]["cpu"]) for c in containers) * 100, 2),
            rss_bytes=sum(memory_bytes(c["usage"]["memory"]) for c in containers),
            threads=0,  # metrics.k8s.io reports no threads or open files
            open_files=0,
            processes=len(containers),
        )

    def logs(self, service: str, lines: int = 100) -> builtins.list[str]:
        """The last lines of one running pod's log."""
        pod = self._running_pod(service)
        with self._api(f"read logs of pod {pod.metadata.name}"):
            # Raw: the client's own decoding of this text/plain answer yields "b'...'".
            response = self._core().read_namespaced_pod_log(
                pod.metadata.name,
                self._namespace,
                tail_lines=max(lines, 0),
                container=self._log_container,
                _preload_content=False,
            )
            raw: bytes = response.data
        return raw.decode("utf-8", errors="replace").splitlines()
