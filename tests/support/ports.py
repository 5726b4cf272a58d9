"""Free loopback ports for tests, so a running lab on the default ports is never touched."""

from lab.ports import free_port

__all__ = ["free_port"]
