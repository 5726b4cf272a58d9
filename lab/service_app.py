"""A lab server's FastAPI app: its parts, its JSON errors, the body limit and its routes."""

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI

from lab.body_limit import BodyLimit

VERSION = "0.1.0"


def service_app(
    title: str,
    *,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    install_handlers: Callable[[FastAPI], None],
    routers: Iterable[APIRouter],
    parts: Any = None,
    wider_bodies: Mapping[str, int] | None = None,
) -> FastAPI:
    """The app every lab server starts from: `parts` on `app.state.parts`, the service's error
    handlers, the body limit (before any route reads a body; `wider_bodies` maps a path prefix
    to a larger limit) and `routers`. Middleware added afterwards wraps all of this."""
    app = FastAPI(title=title, version=VERSION, description=description, lifespan=lifespan)
    if parts is not None:
        app.state.parts = parts
    install_handlers(app)
    app.add_middleware(BodyLimit, wider=wider_bodies)
    for router in routers:
        app.include_router(router)
    return app
