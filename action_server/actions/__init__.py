"""The catalogue: every action module's ActionSpec constants, by name."""

from types import ModuleType

from action_server.actions import (
    blockers,
    cache,
    config,
    escalate,
    migrations,
    restarts,
    routing,
    scale,
    snapshots,
)
from action_server.catalogue import ActionSpec

_MODULES: tuple[ModuleType, ...] = (
    restarts,
    config,
    cache,
    snapshots,
    migrations,
    routing,
    blockers,
    scale,
    escalate,
)


def _collect() -> dict[str, ActionSpec]:
    found: dict[str, ActionSpec] = {}
    for module in _MODULES:
        for value in vars(module).values():
            if isinstance(value, ActionSpec):
                if value.name in found and found[value.name] is not value:
                    raise RuntimeError(f"two actions are called {value.name}")
                found[value.name] = value
    return dict(sorted(found.items()))


CATALOGUE: dict[str, ActionSpec] = _collect()
