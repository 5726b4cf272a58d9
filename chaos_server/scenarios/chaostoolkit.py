"""Chaos Toolkit interop: a Breakfix fault as an experiment the real `chaos run` executes.

The experiment probes the target's /ready as its steady-state hypothesis, calls `/break` as
its method and reverts by correlation id as its rollback. The chaos key is not written into
the file: `chaos run` reads it from the BREAKFIX_CHAOS_KEY environment variable.
"""

import uuid
from typing import Any

KEY_ENV = "BREAKFIX_CHAOS_KEY"


def experiment(
    *,
    chaos_url: str,
    target_url: str,
    fault: str,
    target: str | None,
    params: dict[str, Any],
    ttl_s: float,
    pause_s: float,
    probe_timeout_s: float = 3.0,
) -> dict[str, Any]:
    """A Chaos Toolkit experiment (format version 1.0.0) for one fault."""
    correlation = f"ctk-{uuid.uuid4().hex}"
    headers = {
        "X-Chaos-Key": "${chaos_key}",
        "X-Correlation-ID": "${correlation_id}",
        "Content-Type": "application/json",
    }
    where = f" on {target}" if target else ""
    return {
        "version": "1.0.0",
        "title": f"Breakfix: the lab stays ready through {fault}{where}",
        "description": (
            f"Injects {fault}{where} through the Breakfix chaos server (TTL {ttl_s:g}s), waits"
            f" {pause_s:g}s, checks the target is ready again; the rollback reverts the fault."
        ),
        "tags": ["breakfix", fault],
        "configuration": {
            "chaos_url": chaos_url,
            "target_url": target_url,
            "correlation_id": correlation,
            "chaos_key": {"type": "env", "key": KEY_ENV},
        },
        "steady-state-hypothesis": {
            "title": "the target API is ready",
            "probes": [
                {
                    "type": "probe",
                    "name": "target-ready",
                    "tolerance": 200,
                    "provider": {
                        "type": "http",
                        "url": "${target_url}/ready",
                        "timeout": probe_timeout_s,
                    },
                }
            ],
        },
        "method": [
            {
                "type": "action",
                "name": f"break-{fault}",
                "provider": {
                    "type": "http",
                    "url": f"${{chaos_url}}/break/{fault}",
                    "method": "POST",
                    "headers": headers,
                    "arguments": {"target": target, "params": params, "ttl_s": ttl_s},
                    "timeout": 120,
                },
                "pauses": {"after": pause_s},
            }
        ],
        "rollbacks": [
            {
                "type": "action",
                "name": f"revert-{fault}",
                "provider": {
                    "type": "http",
                    "url": "${chaos_url}/faults?correlation_id=${correlation_id}",
                    "method": "DELETE",
                    "headers": headers,
                    "timeout": 120,
                },
            }
        ],
    }
