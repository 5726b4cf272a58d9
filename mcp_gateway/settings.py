"""Where the gateway reads and acts: taken from a running lab's state dir, never from chaos."""

import re
from dataclasses import dataclass
from pathlib import Path

from lab.config import LabSettings
from lab.envfile import read_env
from lab.paths import StatePaths
from lab.services import endpoints

CLIENT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
DEFAULT_REPEAT_WINDOW_S = 5.0


class GatewaySettingsError(ValueError):
    """The gateway cannot start: no lab state, or a client name that is not allowed."""


@dataclass(frozen=True)
class GatewaySettings:
    """One gateway: the MCP client it serves and the lab services it may reach.

    There is no chaos server URL or credential here on purpose: nothing an MCP client sends
    can reach the chaos server.
    """

    client: str  # the action server key is named `mcp:<client>`
    observability_url: str
    action_url: str
    ops_db_url: str
    state_dir: Path
    repeat_window_s: float = DEFAULT_REPEAT_WINDOW_S
    approval_ttl_s: float = 900.0
    embedding: str = "auto"

    @property
    def key_name(self) -> str:
        return f"mcp:{self.client}"

    @property
    def key_file(self) -> Path:
        return StatePaths.at(self.state_dir).secret(f"mcp-{self.client}.key")

    @classmethod
    def from_lab(
        cls,
        lab: LabSettings,
        client: str,
        *,
        repeat_window_s: float = DEFAULT_REPEAT_WINDOW_S,
        embedding: str = "auto",
    ) -> "GatewaySettings":
        """The gateway of a lab provisioned in `lab.state_dir`."""
        if not CLIENT_NAME.fullmatch(client):
            raise GatewaySettingsError(
                f"client name {client[:60]!r}: 1-40 of a-z, 0-9 and '-', not starting with '-'"
            )
        paths = StatePaths.at(lab.state_dir)
        ops_url = read_env(paths.action_env).get("ACTION_OPS_DB_URL")
        if ops_url is None:
            raise GatewaySettingsError(f"no lab state in {lab.state_dir}: run `make run` first")
        where = endpoints(lab)
        return cls(
            client=client,
            observability_url=f"http://{lab.host}:{lab.observability_port}",
            action_url=where["action"].url,
            ops_db_url=ops_url,
            state_dir=lab.state_dir,
            repeat_window_s=repeat_window_s,
            embedding=embedding,
        )
