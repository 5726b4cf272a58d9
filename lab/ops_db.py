"""The ops-db schema: its own Alembic tree, separate from the target's."""

from pathlib import Path

from lab.migrations import AlembicTree

_TREE = AlembicTree(Path(__file__).with_name("ops_migrations"))

upgrade = _TREE.upgrade
downgrade = _TREE.downgrade
head_revision = _TREE.head_revision
current_revision = _TREE.current_revision
