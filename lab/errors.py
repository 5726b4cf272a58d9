"""The lab's own exceptions: each carries a stable code (and the status it is answered with)."""


class LabError(Exception):
    """Base of every error the lab raises on purpose."""

    status_code = 500
    code = "lab_error"


class PostgresError(LabError):
    """An embedded Postgres cluster could not be found, initialised, started or stopped."""

    code = "postgres_error"


class ServiceStartError(LabError):
    """A service did not become healthy in time."""

    code = "service_start_failed"


class UnknownServiceError(LabError):
    """A service name that the lab does not run."""

    status_code = 404
    code = "unknown_service"


class SupervisorNotRunningError(LabError):
    """No supervisor is running for this state dir."""

    code = "supervisor_not_running"
