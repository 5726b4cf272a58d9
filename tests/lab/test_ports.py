"""Picking free loopback ports for labs started side by side."""

import socket
from pathlib import Path

from lab.ports import free_port, port_in_use


def test_free_ports_are_distinct_bindable_and_below_the_ephemeral_range() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    picked = [free_port() for _ in range(50)]
    assert len(set(picked)) == 50  # never the same port twice while a lab has yet to bind it
    assert all(port < low for port in picked)  # no client socket can take one meanwhile
    assert not any(port_in_use("127.0.0.1", port) for port in picked)


def test_a_port_someone_listens_on_is_skipped() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        nxt = free_port() + 1  # the next in this process's turn
        taken.bind(("127.0.0.1", nxt))
        taken.listen()
        assert port_in_use("127.0.0.1", nxt)
        assert free_port() != nxt
