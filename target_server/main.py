"""The target API's application factory."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lab.body_limit import BodyLimit
from target_server.config import Settings, get_settings
from target_server.errors import install_error_handlers
from target_server.middleware import RequestContextMiddleware
from target_server.parts import build_parts
from target_server.routes import router
from target_server.tracing import setup_tracing


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app and its resources; nothing connects until a request needs it."""
    runtime = build_parts(settings if settings is not None else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        runtime.close()
        tracer_provider.shutdown()  # flushes spans still queued for the OTLP endpoint

    app = FastAPI(title="Breakfix target shop", version="0.1.0", lifespan=lifespan)
    app.state.runtime = runtime
    install_error_handlers(app)
    app.add_middleware(BodyLimit)  # inside the request context: refusals are logged and counted
    app.add_middleware(RequestContextMiddleware, metrics=runtime.metrics)
    app.include_router(router)
    tracer_provider = setup_tracing(app=app, engine=runtime.engine, settings=runtime.settings)
    return app
