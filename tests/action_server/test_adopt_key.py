"""adopt_key: the Compose stack's agent key, made as a file before ops-db exists, then recorded."""

import secrets
from collections.abc import Iterator

import pytest

from action_server.keys import Scope, adopt_key, create_key, new_plaintext, verify_key
from action_server.store import Store
from lab import ops_db
from tests.support.pg import RunningCluster


@pytest.fixture(scope="module")
def keys_store(target_pg: RunningCluster) -> Iterator[Store]:
    """A store on its own ops-db database, migrated to head."""
    password = secrets.token_urlsafe(12)
    cluster = target_pg.cluster
    cluster.ensure_database(role="adopt_keys", password=password, dbname="adopt_keys")
    ops_db.upgrade(cluster.dsn(role="adopt_keys", password=password, dbname="adopt_keys"))
    store = Store(cluster.dsn(role="adopt_keys", password=password, dbname="adopt_keys"))
    yield store
    store.dispose()


def test_an_adopted_key_verifies_once_recorded_and_again_is_a_no_op(keys_store: Store) -> None:
    plaintext = new_plaintext()
    with keys_store.session() as session:
        assert verify_key(session=session, presented=plaintext) is None
        assert adopt_key(session=session, plaintext=plaintext, name="agent", scope=Scope.act)
        row = verify_key(session=session, presented=plaintext)
        assert row is not None and row.scope == "act" and row.name == "agent"
        assert not adopt_key(session=session, plaintext=plaintext, name="agent", scope=Scope.act)


def test_a_malformed_key_or_a_taken_id_is_refused(keys_store: Store) -> None:
    with keys_store.session() as session:
        with pytest.raises(ValueError, match="format"):
            adopt_key(session=session, plaintext="not-a-key", name="agent", scope=Scope.act)
        row, _ = create_key(session=session, name="other", scope=Scope.read)
        forged = f"bfx_{row.id}_{secrets.token_urlsafe(32)}"
        with pytest.raises(ValueError, match="another key"):
            adopt_key(session=session, plaintext=forged, name="agent", scope=Scope.act)
