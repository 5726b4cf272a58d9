"""Observability's HTTP boundary (issue 13, item 4): bodies over the limit, chunked included.

The app is built without a lab (no pipeline runs, the runtime is a stand-in) on a fresh
ops-db of the session's Postgres.
"""

from pathlib import Path
from typing import cast

import pytest

from lab.config import LabSettings
from lab.runtime.base import Runtime
from observability.config import Settings
from observability.main import create_app
from tests.support.hostile_bodies import Chunks, post_chunked_served
from tests.support.ops_db import fresh_ops_db
from tests.support.pg import RunningCluster


@pytest.mark.parametrize("path", ["/metrics", "/alerts"])
def test_a_chunked_body_over_the_limit_is_refused(
    target_pg: RunningCluster, tmp_path: Path, path: str
) -> None:
    app = create_app(
        Settings(_env_file=None, ops_db_url=fresh_ops_db(target_pg, "obs_boundary")),
        lab=LabSettings(state_dir=tmp_path),
        runtime=cast(Runtime, object()),
        background=False,
    )
    response = post_chunked_served(app, path, Chunks())
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
