"""The lab's own exceptions: each carries a stable code."""


class LabError(Exception):
    """Base of every error the lab raises on purpose."""

    code = "lab_error"


class PostgresError(LabError):
    """An embedded Postgres cluster could not be found, initialised, started or stopped."""

    code = "postgres_error"


class ServiceStartError(LabError):
    """A service did not become healthy in time."""

    code = "service_start_failed"


class UnknownServiceError(LabError):
    """A service name that the lab does not run."""

    code = "unknown_service"


class SupervisorNotRunningError(LabError):
    """No supervisor is running for this state dir."""

    code = "supervisor_not_running"
