"""`breakfix run`: prepare the state dir, start the lab, serve control, stop cleanly on a signal."""

import asyncio
import contextlib
import fcntl
import logging
import signal
import time
from collections.abc import Callable, Iterator

import uvicorn

from breakfix.control.app import create_app
from breakfix.provision import database_hooks, prepare_state
from breakfix.reaper import reap
from breakfix.supervisor import Supervisor
from lab.cache_volume import cache_budget, mount_cache, unmount_cache
from lab.config import LabSettings
from lab.envfile import read_env
from lab.errors import LabError
from lab.events import EventRecorder
from lab.paths import StatePaths
from lab.ports import port_in_use
from lab.run_state import save
from lab.secrets import read_secret
from lab.services import CONTROL_TOKEN, OPS_PASSWORD, ServiceSpec, build_specs, clusters

log = logging.getLogger("breakfix.run")


class _ControlServer(uvicorn.Server):
    """uvicorn without its own signal handling: the supervisor owns SIGINT and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.contextmanager
def _exclusive(paths: StatePaths) -> Iterator[None]:
    paths.run.mkdir(parents=True, exist_ok=True)
    with open(paths.run / "supervisor.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LabError(f"another supervisor is already running for {paths.root}") from None
        yield


def _check_ports(settings: LabSettings, specs: list[ServiceSpec]) -> None:
    taken = [(s.name, s.port) for s in specs if port_in_use(settings.host, s.port)]
    if port_in_use(settings.host, settings.control_port):
        taken.append(("control", settings.control_port))
    if taken:
        names = ", ".join(f"{name} ({port})" for name, port in taken)
        raise LabError(
            f"ports already in use: {names}; stop what holds them or set BREAKFIX_<SERVICE>_PORT"
        )


def run_lab(settings: LabSettings, on_ready: Callable[[Supervisor, float], None]) -> int:
    """Run the lab in the foreground until SIGINT or SIGTERM; the exit code of `run`."""
    paths = StatePaths.at(settings.state_dir)
    with _exclusive(paths):
        dbs = clusters(settings, paths)
        leftovers = reap(paths=paths, dbs=dbs, timeout=settings.stop_timeout_s)
        if leftovers:
            log.warning("stopped leftovers of an earlier run: %s", ", ".join(leftovers))
        prepare_state(settings=settings, paths=paths)
        events = EventRecorder(source="supervisor")
        hooks = database_hooks(paths=paths, clusters=dbs)
        provision_ops = hooks["ops-db"]
        ops_dsn = dbs["ops-db"].dsn(
            role="breakfix_ops",
            dbname="breakfix_ops",
            password=read_secret(paths.secret(OPS_PASSWORD)),
        )

        def ops_ready() -> None:
            provision_ops()
            events.connect_to(ops_dsn)
            events.register_services(
                [
                    {
                        "name": s.name,
                        "kind": s.kind,
                        "port": s.port,
                        "url": s.url,
                        "restart_policy": "always" if s.restart else "never",
                        "depends_on": list(s.depends_on),
                    }
                    for s in specs
                ]
            )

        hooks["ops-db"] = ops_ready
        specs = build_specs(settings=settings, paths=paths, dbs=dbs, hooks=hooks)
        _check_ports(settings, specs)
        control_url = f"http://{settings.host}:{settings.control_port}"
        supervisor = Supervisor(
            specs=specs, settings=settings, paths=paths, events=events, control_url=control_url
        )
        save(paths.supervisor_state, supervisor.run_state)
        try:
            budget = cache_budget(read_env(paths.target_env))
            mount_cache(paths.target_cache, budget_bytes=budget, enabled=settings.cache_tmpfs)
            return asyncio.run(_serve(supervisor, settings, paths, on_ready))
        finally:
            unmount_cache(paths.target_cache)
            paths.supervisor_state.unlink(missing_ok=True)


async def _serve(
    supervisor: Supervisor,
    settings: LabSettings,
    paths: StatePaths,
    on_ready: Callable[[Supervisor, float], None],
) -> int:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    app = create_app(supervisor=supervisor, token=read_secret(paths.secret(CONTROL_TOKEN)))
    server = _ControlServer(
        uvicorn.Config(
            app, host=settings.host, port=settings.control_port, log_level="warning", lifespan="off"
        )
    )
    server_task = asyncio.create_task(server.serve())
    began = time.monotonic()
    exit_code = 0
    try:
        starting = asyncio.create_task(supervisor.start_all())
        interrupted = asyncio.create_task(stopping.wait())
        await asyncio.wait({starting, interrupted}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done() and starting.exception() is None:
            await supervisor.events.record(kind="lab_started", message="lab ready")
            on_ready(supervisor, time.monotonic() - began)
            await supervisor.watch(stopping)
        elif starting.done():
            log.error("lab failed to start: %s", starting.exception())
            exit_code = 1
        else:
            log.info("interrupted during start-up")
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, LabError):
                await starting
        interrupted.cancel()
    finally:
        log.info("stopping the lab")
        await supervisor.events.record(kind="lab_stopping", message="lab stopping")
        await supervisor.stop_all()
        server.should_exit = True
        await server_task
    return exit_code
