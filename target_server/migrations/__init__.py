"""Alembic migrations of the shop schema, driven from code (no alembic.ini on disk)."""

from pathlib import Path

from lab.migrations import AlembicTree, current_revision_of

_TREE = AlembicTree(Path(__file__).resolve().parent)

upgrade = _TREE.upgrade
downgrade = _TREE.downgrade
head_revision = _TREE.head_revision
current_revision = _TREE.current_revision

__all__ = ["current_revision", "current_revision_of", "downgrade", "head_revision", "upgrade"]
