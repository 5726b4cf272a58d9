"""db-auth-failure: the app role's password is changed, so new app connections are refused."""

import secrets
from typing import ClassVar

from pydantic import BaseModel

from chaos_server.context import ChaosContext
from chaos_server.faults import chaos_db
from chaos_server.faults.base import Fault, RevertData
from lab.postgres import set_role_password
from lab.secrets import read_secret
from lab.services import APP_PASSWORD, APP_ROLE

APP_NAME = "breakfix-chaos"


def _set_password(ctx: ChaosContext, password: str) -> None:
    # The chaos role (CREATEROLE) may re-password the non-superuser app role. Only a SCRAM
    # verifier, computed here, reaches the server; the role's own settings keep its
    # statements out of the server log (SET log_statement needs a superuser).
    conn = chaos_db.connect(ctx.target_db, application_name=APP_NAME)
    try:
        set_role_password(conn, role=APP_ROLE, password=password)
    finally:
        conn.close()


class DbAuthFailure(Fault):
    """Re-password the app role at random; the revert sets the lab's secret again.

    The secret file is what the target's env is built from, and regenerate-env rewrites
    it, so the revert agrees with that fix. No password is ever kept in revert data.
    """

    id = "db-auth-failure"
    fault_class = "db"
    description = "change the app role's password: new target DB connections fail"
    targets: ClassVar[tuple[str, ...]] = ("target-db",)

    def prepare(self, ctx: ChaosContext, target: str, params: BaseModel) -> RevertData:
        read_secret(ctx.paths.secret(APP_PASSWORD))  # the revert needs it: fail early
        return {"role": APP_ROLE}

    def inject(
        self, ctx: ChaosContext, target: str, params: BaseModel, fault_key: str
    ) -> RevertData:
        _set_password(ctx, secrets.token_urlsafe(24))
        return {"role": APP_ROLE}

    def revert(self, ctx: ChaosContext, revert_data: RevertData) -> None:
        _set_password(ctx, read_secret(ctx.paths.secret(APP_PASSWORD)))
