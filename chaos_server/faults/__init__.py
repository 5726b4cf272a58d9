"""The fault catalogue: one instance per app, since some faults hold live resources."""

from chaos_server.faults.base import Fault
from chaos_server.faults.control import Noop
from chaos_server.faults.db_auth import DbAuthFailure
from chaos_server.faults.db_data import DbDataLoss
from chaos_server.faults.db_lock import DbLock
from chaos_server.faults.db_schema import SchemaDrift
from chaos_server.faults.process import ApiCrash, ApiHang


def build_catalogue() -> dict[str, Fault]:
    """Every implemented fault by id."""
    faults: list[Fault] = [
        ApiCrash(),
        ApiHang(),
        DbAuthFailure(),
        DbDataLoss(),
        DbLock(),
        Noop(),
        SchemaDrift(),
    ]
    return {fault.id: fault for fault in faults}
