"""The console's parts, built once per app: settings, ops-db reads, service clients,
sessions and the templates."""

import json
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates

from console.clients import Services
from console.config import Settings
from console.history import History, when
from console.sessions import Sessions
from console.sparkline import sparkline
from lab.untrusted_text import plain
from mcp_gateway.approvals import Approvals

TEMPLATES = Path(__file__).resolve().parent / "templates"


def clean(value: object, limit: int = 300) -> str:
    """Untrusted text for a page: no control or invisible characters, bounded (autoescape
    does the HTML)."""
    return "" if value is None else plain(value, limit=limit)


def pretty(value: object, limit: int = 2000) -> str:
    """A JSON value indented for a <pre>, bounded and cleaned."""
    return clean(json.dumps(value, indent=2, default=str, ensure_ascii=False), limit)


@dataclass
class ConsoleParts:
    """Everything a request handler needs."""

    settings: Settings
    history: History
    approvals: Approvals  # the MCP gateway's approval requests, on the same ops-db
    services: Services
    sessions: Sessions
    templates: Jinja2Templates

    @classmethod
    def build(cls, settings: Settings) -> "ConsoleParts":
        templates = Jinja2Templates(directory=TEMPLATES)  # autoescape on for .html
        templates.env.filters["when"] = when
        templates.env.filters["clean"] = clean
        templates.env.filters["pretty"] = pretty
        templates.env.globals["sparkline"] = sparkline
        return cls(
            settings=settings,
            history=History(settings.ops_db_url.get_secret_value()),
            approvals=Approvals(settings.ops_db_url.get_secret_value()),
            services=Services(settings),
            sessions=Sessions(
                tokens={
                    "operator": settings.operator_token_file,
                    "viewer": settings.viewer_token_file,
                },
                ttl_s=settings.session_ttl_s,
            ),
            templates=templates,
        )

    def close(self) -> None:
        self.history.dispose()
        self.approvals.close()
        self.services.close()


def get_parts(request: Request) -> ConsoleParts:
    """The app's parts."""
    parts: ConsoleParts = request.app.state.parts
    return parts
