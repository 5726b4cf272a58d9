"""A game day's handle on a lab: the running one (`make run`) or a fresh one of its own.

The handle holds what a chaos client and an operator hold, never what the agent holds: the
chaos key, the agent's intake token (to silence, as an operator would), the game day's
approver token (to approve and deny, recorded as `gameday`), and action-server keys of the
game day's own (an admin key for snapshots, audit reads and route resets; an act key for the
naive restart bot), so every action the game day takes is told apart from the responder's
in the audit log.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from action_server.client import ActionClient
from action_server.keys import Scope, ensure_key, key_id_of
from gameday.errors import GamedayError
from lab.approvers import approver_token
from lab.config import LabSettings
from lab.envfile import read_env
from lab.paths import StatePaths
from lab.postgres import Cluster
from lab.runtime.local import LocalRuntime
from lab.secrets import read_secret
from lab.services import (
    AGENT_APPROVERS,
    AGENT_INTAKE_TOKEN,
    GAMEDAY_APPROVER,
    clusters,
    endpoints,
)

ADMIN_KEY = "gameday-admin.key"
BOT_KEY = "gameday-restart-bot.key"


class LabUnreachable(GamedayError):
    """The lab is not running here, or a service of it does not answer."""


@dataclass
class GamedayLab:
    """The running lab and the game day's clients on it."""

    paths: StatePaths
    settings: LabSettings
    runtime: LocalRuntime
    target_db: Cluster
    chaos: httpx.Client
    agent: httpx.Client | None  # None when the lab runs no agent (an external one may act)
    approver: httpx.Client | None  # on the agent with the game day's approver token
    observability: httpx.Client
    target: httpx.Client
    actions: ActionClient  # the game day's admin key: snapshots, audit, route resets
    own_key_id: str  # every action by this key is the game day's, never the responder's

    def close(self) -> None:
        """Close every client."""
        for client in (self.chaos, self.agent, self.approver, self.observability, self.target):
            if client is not None:
                client.close()
        self.actions.close()
        self.runtime.close()

    @property
    def action_url(self) -> str:
        return endpoints(self.settings)["action"].url


def http_client(url: str, **headers: str) -> httpx.Client:
    """A loopback client that ignores proxy variables."""
    return httpx.Client(base_url=url, headers=headers, timeout=30.0, trust_env=False)


def own_key(paths: StatePaths, *, secret: str, name: str, scope: Scope) -> str:
    """An action-server key kept in the state dir's secrets while ops-db honours it, else
    made (again): see action_server.keys.ensure_key."""
    from action_server.errors import StoreUnavailable
    from action_server.store import Store

    url = read_env(paths.action_env).get("ACTION_OPS_DB_URL")
    if url is None:
        raise LabUnreachable(f"no lab state in {paths.root}: start the lab (`make run`) first")
    store = Store(url)
    try:
        with store.session() as session:
            key, _ = ensure_key(
                session=session, key_file=paths.secret(secret), name=name, scope=scope
            )
    except StoreUnavailable:
        raise LabUnreachable("ops-db is not reachable: is the lab running?") from None
    finally:
        store.dispose()
    return key


def connect(settings: LabSettings, *, agent: bool | None = None) -> GamedayLab:
    """Clients on the lab that `settings` describe (its state dir, its ports).

    `agent` None: use the lab's agent when its intake token exists and it answers."""
    paths = StatePaths.at(settings.state_dir)
    if not paths.secret("chaos.key").exists():
        raise LabUnreachable(f"no lab state in {paths.root}: start the lab (`make run`) first")
    urls = {name: e.url for name, e in endpoints(settings).items() if e.url}
    key = own_key(paths, secret=ADMIN_KEY, name="gameday", scope=Scope.admin)
    key_id = key_id_of(key)
    if key_id is None:
        raise LabUnreachable(f"the game day's key in {paths.secret(ADMIN_KEY)} is malformed")
    agent_client = _agent_client(paths, urls.get("agent"), agent)
    return GamedayLab(
        paths=paths,
        settings=settings,
        runtime=LocalRuntime.from_state_dir(paths),
        target_db=clusters(settings, paths)["target-db"],
        chaos=http_client(urls["chaos"], **{"X-Chaos-Key": read_secret(paths.secret("chaos.key"))}),
        agent=agent_client,
        approver=None if agent_client is None else _approver_client(paths, agent_client),
        observability=http_client(urls["observability"]),
        target=http_client(urls["target"]),
        actions=ActionClient(urls["action"], key, timeout=240.0),
        own_key_id=key_id,
    )


def _agent_client(paths: StatePaths, url: str | None, wanted: bool | None) -> httpx.Client | None:
    token_file = paths.secret(AGENT_INTAKE_TOKEN)
    if wanted is False or url is None or not token_file.exists():
        if wanted:
            raise LabUnreachable("the lab runs no agent (no intake token in its state dir)")
        return None
    client = http_client(url, Authorization=f"Bearer {read_secret(token_file)}")
    try:
        client.get("/healthz", timeout=5.0).raise_for_status()
    except httpx.HTTPError:
        client.close()
        if wanted:
            raise LabUnreachable(f"the agent at {url} does not answer") from None
        return None
    return client


def _approver_client(paths: StatePaths, agent: httpx.Client) -> httpx.Client:
    """A client on the agent that answers approvals as the game day's approver."""
    try:
        token = approver_token(paths.secret(AGENT_APPROVERS), GAMEDAY_APPROVER)
    except (OSError, ValueError, LookupError) as exc:
        agent.close()
        raise LabUnreachable(f"no game day approver token: {exc} (restart the lab)") from None
    return http_client(str(agent.base_url), Authorization=f"Bearer {token}")


def check_reachable(lab: GamedayLab) -> None:
    """Every service the game day talks to answers /healthz; LabUnreachable otherwise."""
    for name, client in (
        ("chaos", lab.chaos),
        ("observability", lab.observability),
        ("target", lab.target),
    ):
        try:
            client.get("/healthz", timeout=5.0)
        except httpx.HTTPError as exc:
            raise LabUnreachable(f"{name} at {client.base_url} unreachable: {exc}") from None


@contextmanager
def connected(settings: LabSettings, *, agent: bool | None = None) -> Iterator[GamedayLab]:
    """`connect`, closed afterwards."""
    lab = connect(settings, agent=agent)
    try:
        check_reachable(lab)
        yield lab
    finally:
        lab.close()
