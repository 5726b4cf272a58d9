"""What a tool answers a model: `{status, tool, query, data?, error?}`.

Status is `success | error | no_data | approval_required`; the exact query and the upstream
error text come with it, so a model can correct itself (HolmesGPT's tool results). Used by
the crew's tools and by the MCP gateway.
"""

import json
from typing import Any, Literal

Status = Literal["success", "error", "no_data", "approval_required"]
RESULT_MAX_CHARS = 8000


def result_doc(
    tool: str, query: dict[str, Any], status: Status, data: Any = None, error: str = ""
) -> dict[str, Any]:
    """One tool answer, its data trimmed to what a prompt can hold (`truncated` then)."""
    doc: dict[str, Any] = {"status": status, "tool": tool, "query": query}
    if data is not None:
        doc["data"] = data
    if error:
        doc["error"] = error
    if len(json.dumps(doc, default=str)) > RESULT_MAX_CHARS:
        doc["data"] = json.dumps(data, default=str)[: RESULT_MAX_CHARS - 500] + "...(truncated)"
        doc["truncated"] = True
    return doc


def result(
    tool: str, query: dict[str, Any], status: Status, data: Any = None, error: str = ""
) -> str:
    """One tool answer as JSON text (see `result_doc`)."""
    return json.dumps(result_doc(tool, query, status, data, error), default=str)
