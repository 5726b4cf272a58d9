"""Name resolution: lab names come from the hosts file only; no lab query leaves the machine."""

from pathlib import Path

import pytest

from target_server.resolver import NameResolutionError, Resolver, is_lab_name
from tests.support.asgi import TestClient
from tests.support.target_server import PRIMARY_HOST, AppFactory, write_hosts


class RecordingLookup:
    """A system resolver stand-in that records every name it is asked about."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> str:
        self.asked.append(host)
        return "192.0.2.7"


def test_lab_name_in_hosts_file(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    write_hosts(hosts, {PRIMARY_HOST: "127.0.0.2"})
    lookup = RecordingLookup()
    resolver = Resolver(hosts_file=hosts, lookup=lookup)
    assert resolver.resolve(PRIMARY_HOST.upper() + ".", 80) == "127.0.0.2"
    assert lookup.asked == []


@pytest.mark.parametrize("present", [True, False])
@pytest.mark.parametrize("name", [PRIMARY_HOST, "Other.Breakfix.Lab.", "breakfix.lab"])
def test_missing_lab_name_never_reaches_the_system_resolver(
    tmp_path: Path, present: bool, name: str
) -> None:
    hosts = tmp_path / "hosts"
    if present:
        write_hosts(hosts, {"unrelated.breakfix.lab": "127.0.0.1"})
    lookup = RecordingLookup()
    resolver = Resolver(hosts_file=hosts, lookup=lookup)
    with pytest.raises(NameResolutionError, match="name resolution failure"):
        resolver.resolve(name, 80)
    assert lookup.asked == []


def test_lab_name_without_hosts_file_fails() -> None:
    lookup = RecordingLookup()
    with pytest.raises(NameResolutionError):
        Resolver(hosts_file=None, lookup=lookup).resolve(PRIMARY_HOST, 80)
    assert lookup.asked == []


def test_other_names_use_the_system_resolver(tmp_path: Path) -> None:
    lookup = RecordingLookup()
    resolver = Resolver(hosts_file=tmp_path / "missing", lookup=lookup)
    assert resolver.resolve("pricing.example.com", 443) == "192.0.2.7"
    assert resolver.resolve("notbreakfix.lab", 443) == "192.0.2.7"
    assert lookup.asked == ["pricing.example.com", "notbreakfix.lab"]


def test_is_lab_name() -> None:
    assert is_lab_name("a.b.breakfix.lab")
    assert not is_lab_name("breakfix.lab.example.com")


def test_pricing_ignores_proxy_environment(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy from the environment would carry lab traffic off the resolver's path.
    dead = "http://127.0.0.1:9"
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(var, dead)
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    with TestClient(make_app()) as client:
        listing = client.get("/products", params={"category": "tea"}).json()
        response = client.get(f"/products/{listing[0]['id']}/price")
    assert response.status_code == 200, response.text
    assert response.json()["cached"] is False
