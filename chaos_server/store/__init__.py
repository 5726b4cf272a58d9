"""The chaos server's connection to ops-db."""

from chaos_server.errors import StoreUnavailable
from lab.ops_store import OpsStore

APP_NAME = "breakfix-chaos-ops"


class Store(OpsStore):
    """ops-db as the chaos server uses it."""

    def __init__(self, database_url: str) -> None:
        super().__init__(database_url, application_name=APP_NAME, unavailable=StoreUnavailable)
