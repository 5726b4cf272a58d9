"""The action server's connection to ops-db."""

from action_server.errors import StoreUnavailable
from lab.ops_store import OpsStore


class Store(OpsStore):
    """ops-db as the action server uses it (sessions named `breakfix-action`)."""

    def __init__(self, database_url: str) -> None:
        super().__init__(
            database_url, application_name="breakfix-action", unavailable=StoreUnavailable
        )
