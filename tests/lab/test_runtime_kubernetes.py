"""The kubernetes runtime backend against a STUB Kubernetes API server, not a real cluster.

No cluster can run on this machine. The stub below (http.server on 127.0.0.1, started by the
test) answers with JSON written by hand in the shapes of the Kubernetes OpenAPI schema
(apps/v1 DeploymentList, autoscaling/v1 Scale, v1 PodList and Pod, v1 Status, the pod log as
text, metrics.k8s.io/v1beta1 PodMetrics). They are not recordings of a live API server. The tests
assert the requests the backend sends (method, path, query, patch body) and what it answers,
errors included. Whether a real API server accepts the same requests was not run.
"""

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate
import pytest
import yaml
from kubernetes import client as k8s

from lab.errors import UnknownServiceError
from lab.paths import StatePaths
from lab.runtime.kubernetes import (
    RESTARTED_AT,
    KubernetesForbiddenError,
    KubernetesRuntime,
    MetricsUnavailableError,
    PodNotRunningError,
    SignalNotSupportedError,
    cpu_cores,
    memory_bytes,
)
from lab.runtime.select import build_runtime

NS = "breakfix"
APPS = f"/apis/apps/v1/namespaces/{NS}/deployments"
PODS = f"/api/v1/namespaces/{NS}/pods"
METRICS = f"/apis/metrics.k8s.io/v1beta1/namespaces/{NS}/pods"


def deployment(service: str, replicas: int) -> dict[str, Any]:
    labels = {"breakfix.service": service}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": service,
            "namespace": NS,
            "labels": labels,
            "annotations": {
                "breakfix.port": "8000",
                "breakfix.url": f"http://{service}:8000",
                "breakfix.kind": "http",
            },
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": service, "image": "breakfix:dev"}]},
            },
        },
        "status": {"replicas": replicas, "readyReplicas": replicas},
    }


def pod(service: str, name: str, *, ready: bool, restarts: int = 0) -> dict[str, Any]:
    status: dict[str, Any] = {
        "name": service,
        "image": "breakfix:dev",
        "imageID": "sha256:0",
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
    }
    if restarts:
        status["lastState"] = {
            "terminated": {"exitCode": 137, "reason": "Error", "finishedAt": "2026-01-01T00:00:00Z"}
        }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"breakfix.service": service}},
        "spec": {"containers": [{"name": service, "image": "breakfix:dev"}]},
        "status": {
            "phase": "Running",
            "startTime": "2026-01-01T00:00:00Z",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [status],
        },
    }


def api_status(code: int, reason: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"stub: {reason}",
        "reason": reason,
        "code": code,
    }


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: Any


@dataclass
class Cluster:
    """What the stub serves, and every request it received."""

    replicas: dict[str, int] = field(default_factory=lambda: {"target": 1, "agent": 0})
    pods: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    metrics: bool = True
    forbidden: bool = False
    missing_on_patch: bool = False
    requests: list[Request] = field(default_factory=list)

    def answer(self, req: Request) -> tuple[int, str, Any]:
        """(status, content type, body) for one request."""
        if self.forbidden:
            return 403, "application/json", api_status(403, "Forbidden")
        path, selector = req.path, req.query.get("labelSelector", [""])[0]
        service = selector.partition("=")[2]
        if req.method == "GET" and path == APPS:
            names = [service] if service else sorted(self.replicas)
            items = [deployment(n, self.replicas[n]) for n in names if n in self.replicas]
            return 200, "application/json", {"kind": "DeploymentList", "items": items}
        if req.method == "PATCH" and path.startswith(APPS + "/"):
            name = path.removeprefix(APPS + "/").split("/")[0]
            if self.missing_on_patch or name not in self.replicas:
                return 404, "application/json", api_status(404, "NotFound")
            if path.endswith("/scale"):
                self.replicas[name] = req.body["spec"]["replicas"]
                scale = {"replicas": self.replicas[name]}
                return 200, "application/json", {"kind": "Scale", "spec": scale, "status": scale}
            return 200, "application/json", deployment(name, self.replicas[name])
        if req.method == "GET" and path == PODS:
            pods = self.pods.get(service, []) if self.replicas.get(service) else []
            return 200, "application/json", {"kind": "PodList", "items": pods}
        if path.endswith("/log"):
            return 200, "text/plain", "one\ntwo\nthree\n"
        if req.method == "DELETE" and path.startswith(PODS + "/"):
            return 200, "application/json", pod("target", path.split("/")[-1], ready=False)
        if path.startswith(METRICS + "/") and self.metrics:
            usage = {"cpu": "250000000n", "memory": "51200Ki"}
            return (
                200,
                "application/json",
                {
                    "kind": "PodMetrics",
                    "apiVersion": "metrics.k8s.io/v1beta1",
                    "metadata": {"name": path.split("/")[-1], "namespace": NS},
                    "timestamp": "2026-01-01T00:00:00Z",
                    "window": "15s",
                    "containers": [{"name": "target", "usage": usage}],
                },
            )
        return 404, "application/json", api_status(404, "NotFound")


def serve(cluster: Cluster) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def _handle(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            req = Request(
                self.command,
                url.path,
                parse_qs(url.query),
                self.headers.get("Content-Type", ""),
                json.loads(raw) if raw else None,
            )
            cluster.requests.append(req)
            code, kind, body = cluster.answer(req)
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PATCH = do_DELETE = _handle

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def cluster() -> Cluster:
    return Cluster(
        pods={
            "target": [
                pod("target", "target-abc", ready=True, restarts=2),
                pod("target", "target-def", ready=False),
            ]
        }
    )


@pytest.fixture
def runtime(cluster: Cluster) -> Iterator[KubernetesRuntime]:
    server = serve(cluster)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    config = k8s.Configuration()
    config.host = f"http://127.0.0.1:{server.server_address[1]}"
    backend = KubernetesRuntime(api_client=k8s.ApiClient(config), namespace=NS)
    yield backend
    backend.close()
    server.shutdown()
    server.server_close()
    thread.join()


def sent(cluster: Cluster, method: str) -> list[Request]:
    return [r for r in cluster.requests if r.method == method]


def test_status_reads_the_deployment_and_its_pods_by_label(
    runtime: KubernetesRuntime, cluster: Cluster
) -> None:
    status = runtime.status("target")
    assert (status.name, status.health, status.port) == ("target", "healthy", 8000)
    assert status.url == "http://target:8000"
    assert status.restarts == 2
    assert status.last_exit_code == 137
    assert status.restart_policy == "always"
    assert status.uptime_s is not None and status.uptime_s > 0
    assert [(r.path, r.query["labelSelector"]) for r in cluster.requests] == [
        (APPS, ["breakfix.service=target"]),
        (PODS, ["breakfix.service=target"]),
    ]


def test_list_names_every_labelled_deployment_and_a_scaled_down_one_is_stopped(
    runtime: KubernetesRuntime, cluster: Cluster
) -> None:
    listed = {s.name: s.health for s in runtime.list()}
    assert listed == {"agent": "stopped", "target": "healthy"}
    assert cluster.requests[0].query["labelSelector"] == ["breakfix.service"]


def test_unready_pods_make_the_service_unhealthy(
    runtime: KubernetesRuntime, cluster: Cluster
) -> None:
    cluster.pods["target"] = [pod("target", "target-def", ready=False)]
    status = runtime.status("target")
    assert status.health == "unhealthy"
    assert status.uptime_s is None


def test_restart_patches_the_pod_template_annotation(
    runtime: KubernetesRuntime, cluster: Cluster
) -> None:
    runtime.restart("target")
    (patch,) = sent(cluster, "PATCH")
    assert patch.path == f"{APPS}/target"
    assert "merge-patch+json" in patch.content_type
    stamp = patch.body["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
    assert stamp.startswith("20") and stamp.endswith("+00:00")
    assert list(patch.body) == ["spec"]


def test_stop_and_start_scale_to_zero_and_back_to_one(
    runtime: KubernetesRuntime, cluster: Cluster
) -> None:
    assert runtime.stop("target").health == "stopped"
    assert cluster.replicas["target"] == 0
    assert runtime.start("target").health == "healthy"
    patches = sent(cluster, "PATCH")
    assert [(p.path, p.body) for p in patches] == [
        (f"{APPS}/target/scale", {"spec": {"replicas": 0}}),
        (f"{APPS}/target/scale", {"spec": {"replicas": 1}}),
    ]


def test_start_of_a_running_service_changes_nothing(
    runtime: KubernetesRuntime, cluster: Cluster
) -> None:
    runtime.start("target")
    assert sent(cluster, "PATCH") == []


def test_scale_sets_the_replica_count(runtime: KubernetesRuntime, cluster: Cluster) -> None:
    (status,) = runtime.scale("target", 3)
    assert status.name == "target"
    assert cluster.replicas["target"] == 3
    assert sent(cluster, "PATCH")[0].body == {"spec": {"replicas": 3}}


def test_sigkill_deletes_the_ready_pod_with_no_grace(
    runtime: KubernetesRuntime, cluster: Cluster
) -> None:
    runtime.signal("target", "SIGKILL")
    (delete,) = sent(cluster, "DELETE")
    assert delete.path == f"{PODS}/target-abc"
    assert delete.query["gracePeriodSeconds"] == ["0"]


def test_other_signals_are_refused_without_a_call(
    runtime: KubernetesRuntime, cluster: Cluster
) -> None:
    with pytest.raises(SignalNotSupportedError, match="only SIGKILL") as caught:
        runtime.signal("target", "SIGSTOP")
    assert caught.value.code == "signal_not_supported"
    assert cluster.requests == []


def test_logs_tail_one_pod(runtime: KubernetesRuntime, cluster: Cluster) -> None:
    assert runtime.logs("target", lines=3) == ["one", "two", "three"]
    log = cluster.requests[-1]
    assert log.path == f"{PODS}/target-abc/log"
    assert log.query["tailLines"] == ["3"]


def test_stats_come_from_pod_metrics(runtime: KubernetesRuntime, cluster: Cluster) -> None:
    stats = runtime.stats("target")
    assert stats.cpu_percent == 25.0
    assert stats.rss_bytes == 51200 * 1024
    assert stats.processes == 1
    assert cluster.requests[-1].path == f"{METRICS}/target-abc"


def test_no_metrics_api_is_a_clear_error(runtime: KubernetesRuntime, cluster: Cluster) -> None:
    cluster.metrics = False
    with pytest.raises(MetricsUnavailableError, match="metrics-server") as caught:
        runtime.stats("target")
    assert caught.value.code == "no_metrics_api"


def test_a_service_without_pods_cannot_be_read(
    runtime: KubernetesRuntime, cluster: Cluster
) -> None:
    with pytest.raises(PodNotRunningError):
        runtime.logs("agent")


def test_an_unknown_service_is_unknown(runtime: KubernetesRuntime) -> None:
    with pytest.raises(UnknownServiceError, match="breakfix.service=nope"):
        runtime.status("nope")


def test_a_404_from_the_api_is_an_unknown_service(
    runtime: KubernetesRuntime, cluster: Cluster
) -> None:
    cluster.missing_on_patch = True
    with pytest.raises(UnknownServiceError, match="HTTP 404") as caught:
        runtime.restart("target")
    assert caught.value.code == "unknown_service"


def test_a_403_from_the_api_is_forbidden(runtime: KubernetesRuntime, cluster: Cluster) -> None:
    cluster.forbidden = True
    with pytest.raises(KubernetesForbiddenError, match="HTTP 403.*RBAC") as caught:
        runtime.list()
    assert (caught.value.code, caught.value.status_code) == ("kubernetes_forbidden", 403)


def test_quantities() -> None:
    assert cpu_cores("250m") == 0.25
    assert cpu_cores("2") == 2.0
    assert memory_bytes("64Mi") == 64 * 2**20
    assert memory_bytes("1500k") == 1_500_000


# --- The manifests (deploy/k8s) ------------------------------------------------------------------
# Every object is validated against the Kubernetes 1.37 OpenAPI schemas, strictly (an unknown
# field is an error), by kubernetes-validate, which ships those schemas: kubeconform does not
# install here and `kubectl apply --dry-run=client` needs an API server for discovery. When
# kubectl is on PATH both kustomizations are rendered with `kubectl kustomize` and the rendered
# output is validated too; the other tests check what no schema says (labels, secrets, policies).

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
LAB_SERVICES = {
    "target",
    "upstream-primary",
    "upstream-fallback",
    "action",
    "chaos",
    "observability",
    "agent",
    "console",
}


def manifests() -> list[dict[str, Any]]:
    """Every object of the base, from the files its kustomization lists."""
    kustomization = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / "base" / name).read_text()) if d]
    return docs


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in manifests() if d["kind"] == kind}


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def test_both_kustomizations_list_files_that_exist() -> None:
    for folder in (K8S / "base", K8S / "overlays" / "dev"):
        kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
        assert kustomization["resources"]
        for name in kustomization["resources"]:
            assert (folder / name).exists(), f"{folder}/{name}"
    listed = set(yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())["resources"])
    on_disk = {p.name for p in (K8S / "base").glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_every_lab_service_is_a_labelled_deployment_with_probes_and_resources() -> None:
    deployments = of_kind("Deployment")
    assert set(deployments) == LAB_SERVICES
    services = of_kind("Service")
    for name, workload in [*deployments.items(), *of_kind("StatefulSet").items()]:
        labels = pod_labels(workload)
        assert labels["breakfix.service"] == name
        selector = workload["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items(), name
        assert services[name]["spec"]["selector"].items() <= labels.items(), name
        for container in workload["spec"]["template"]["spec"]["containers"]:
            assert {"readinessProbe", "livenessProbe"} <= container.keys(), name
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), name
            assert {"cpu", "memory"} <= container["resources"]["limits"].keys(), name
    probes = deployments["target"]["spec"]["template"]["spec"]["containers"][0]
    assert probes["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_both_databases_are_statefulsets_with_claims() -> None:
    statefulsets = of_kind("StatefulSet")
    assert set(statefulsets) == {"target-db", "ops-db"}
    for workload in statefulsets.values():
        assert workload["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"


def test_secrets_are_mounted_files_never_environment_variables() -> None:
    secrets = set(of_kind("Secret"))
    workloads = [*of_kind("Deployment").values(), *of_kind("StatefulSet").values()]
    mounted: set[str] = set()
    for workload in workloads:
        spec = workload["spec"]["template"]["spec"]
        for container in spec["containers"]:
            for env in container.get("env", []):
                assert "secretKeyRef" not in env.get("valueFrom", {}), env
            assert "envFrom" not in container
        mounted |= {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
    assert mounted == secrets


def test_the_agent_gets_no_chaos_key_and_no_api_token() -> None:
    agent = of_kind("Deployment")["agent"]["spec"]["template"]["spec"]
    assert agent["automountServiceAccountToken"] is False
    assert "chaos-key" not in {v.get("secret", {}).get("secretName") for v in agent["volumes"]}
    holders = {
        name
        for name, d in of_kind("Deployment").items()
        for v in d["spec"]["template"]["spec"]["volumes"]
        if v.get("secret", {}).get("secretName") == "chaos-key"
    }
    assert holders == {"chaos", "console"}


def peers_admit(peers: list[dict[str, Any]], labels: dict[str, str]) -> bool:
    """Whether a pod with `labels` in the namespace matches one of the policy's peers."""
    for peer in peers:
        if "podSelector" in peer and "namespaceSelector" not in peer:
            wanted = peer["podSelector"].get("matchLabels", {})
            if wanted.items() <= labels.items():
                return True
    return False


def allowed(source: str, target: str) -> bool:
    """Whether the NetworkPolicies let pod `source` open a connection to pod `target`."""
    labels = {
        n: pod_labels(d) for n, d in {**of_kind("Deployment"), **of_kind("StatefulSet")}.items()
    }
    policies = of_kind("NetworkPolicy").values()

    def selects(policy: dict[str, Any], pod: str, kind: str) -> bool:
        wanted = policy["spec"]["podSelector"].get("matchLabels", {})
        return kind in policy["spec"]["policyTypes"] and wanted.items() <= labels[pod].items()

    egress = [p for p in policies if selects(p, source, "Egress")]
    if egress and not any(
        peers_admit(rule.get("to", []), labels[target])
        for p in egress
        for rule in p["spec"]["egress"]
    ):
        return False
    ingress = [p for p in policies if selects(p, target, "Ingress")]
    return not ingress or any(
        "from" not in rule or peers_admit(rule["from"], labels[source])
        for p in ingress
        for rule in p["spec"].get("ingress", [])
    )


def test_network_policies_keep_the_agent_away_from_chaos() -> None:
    assert not allowed("agent", "chaos")
    assert not allowed("target", "chaos")
    assert allowed("console", "chaos")
    assert allowed("agent", "observability")
    assert allowed("agent", "action")
    assert not allowed("agent", "target")
    assert not allowed("agent", "target-db")
    assert not allowed("agent", "console")


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("folder", ["base", "overlays/dev"])
def test_kubectl_kustomize_renders(folder: str) -> None:
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(K8S / folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    assert all(
        d["metadata"].get("namespace") == "breakfix" for d in docs if d["kind"] != "Namespace"
    )
    console = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "console")
    assert (console["spec"].get("type") == "NodePort") == (folder == "overlays/dev")


K8S_VERSION = "1.37.0"


@pytest.mark.parametrize("doc", manifests(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_manifest_validates_against_the_kubernetes_schemas(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_schema_check_rejects_a_misspelt_field_and_a_wrong_type() -> None:
    """The check above is live: a field name off by one letter and a string where the API
    takes an integer both fail."""
    deployment = of_kind("Deployment")["target"]
    misspelt = yaml.safe_load(yaml.safe_dump(deployment))
    misspelt["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError, match="imagePulPolicy"):
        kubernetes_validate.validate(misspelt, K8S_VERSION, strict=True)
    wrong_type = yaml.safe_load(yaml.safe_dump(deployment))
    wrong_type["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError, match="integer"):
        kubernetes_validate.validate(wrong_type, K8S_VERSION, strict=True)


def env_of(deployment: str) -> dict[str, Any]:
    container = of_kind("Deployment")[deployment]["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.mark.parametrize(
    ("deployment", "prefix"), [("action", "ACTION"), ("chaos", "CHAOS"), ("observability", "OBS")]
)
def test_the_servers_select_the_kubernetes_backend_in_their_namespace(
    deployment: str, prefix: str
) -> None:
    env = env_of(deployment)
    assert env[f"{prefix}_RUNTIME"] == "kubernetes"
    assert env[f"{prefix}_KUBERNETES_NAMESPACE"] == {
        "fieldRef": {"fieldPath": "metadata.namespace"}
    }
    spec = of_kind("Deployment")[deployment]["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == deployment


def test_observability_may_only_read_the_cluster() -> None:
    bindings = of_kind("RoleBinding")
    roles = of_kind("Role")
    granted: dict[str, set[str]] = {}
    for binding in bindings.values():
        verbs = {v for rule in roles[binding["roleRef"]["name"]]["rules"] for v in rule["verbs"]}
        for subject in binding["subjects"]:
            granted.setdefault(subject["name"], set()).update(verbs)
    assert granted["observability"] == {"get", "list"}
    assert {"patch", "delete"} <= granted["action"]
    assert "agent" not in granted and "console" not in granted


def test_build_runtime_selects_the_kubernetes_backend(tmp_path: Path) -> None:
    """Selected by name like the others; no cluster is needed until the first call."""
    runtime = build_runtime(
        "kubernetes", paths=StatePaths.at(tmp_path), kubernetes_namespace="lab-ns"
    )
    assert isinstance(runtime, KubernetesRuntime)
    assert runtime._namespace == "lab-ns"
