"""Which target-db sessions terminate-db-blockers would end (classification only)."""

from action_server.db_admin import ACTION_APP_NAME, TARGET_APP_NAME
from action_server.db_sessions import DbSession, classify


def _session(pid: int, name: str, *, blocks: list[int] | None = None) -> DbSession:
    return DbSession(
        pid=pid,
        database="shop",
        usename="postgres",
        application_name=name,
        state="idle",
        wait=None,
        query="",
        blocks=blocks or [],
    )


def test_an_idle_session_of_the_action_server_is_left_alone_a_foreign_one_is_not() -> None:
    # A connection the action server has just closed is listed until its backend exits:
    # a second plan right after a termination must not offer to end it.
    candidates, protected = classify([_session(1, ACTION_APP_NAME), _session(2, "psql")])
    assert [s.pid for s in candidates] == [2]
    assert protected == []


def test_a_blocking_session_named_like_the_action_server_is_still_a_candidate() -> None:
    candidates, _ = classify([_session(1, ACTION_APP_NAME, blocks=[3])])
    assert [(s.pid, s.reason) for s in candidates] == [(1, "blocks sessions [3]")]


def test_the_app_is_protected_when_it_blocks_and_ignored_when_idle() -> None:
    candidates, protected = classify(
        [_session(1, TARGET_APP_NAME, blocks=[4]), _session(2, TARGET_APP_NAME)]
    )
    assert candidates == []
    assert [s.pid for s in protected] == [1]
