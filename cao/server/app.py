"""FastAPI application: routes are thin; the work happens in the services."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cao import __version__
from cao.server.security import LoopbackGuard
from cao.server.services import Services


def create_app(services: Services | None = None, extra_hosts: set[str] | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        svc = services or Services.build()
        app.state.services = svc
        from cao.server import routes_runs  # noqa: F401  (attaches the runtime to services)

        routes_runs.attach(svc)
        from cao.server import routes_flows  # after the runtime: flows start runs

        routes_flows.attach(svc)
        await svc.start()
        try:
            yield
        finally:
            await svc.stop()

    app = FastAPI(title="cao-server", version=__version__, lifespan=lifespan,
                  description="State and tmux terminals of cao, the workflow engine for CLI agents.")
    app.add_middleware(LoopbackGuard, extra_hosts=extra_hosts)
    _install_error_handlers(app)

    from cao.server import routes_core, routes_flows, routes_runs

    app.include_router(routes_core.router)
    app.include_router(routes_runs.router)
    app.include_router(routes_flows.router)

    @app.get("/health", tags=["server"])
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "pid": os.getpid()}

    return app


def _install_error_handlers(app: FastAPI) -> None:
    from cao.runtime.delegation import DelegationError
    from cao.runtime.profiles import ProfileNotFound
    from cao.terminals.manager import TerminalError, TerminalNotFound
    from cao.terminals.policy import WorkingDirectoryError

    def handler(status: int):
        async def _handle(request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse({"detail": str(exc), "error": type(exc).__name__}, status_code=status)
        return _handle

    app.add_exception_handler(TerminalNotFound, handler(404))
    app.add_exception_handler(ProfileNotFound, handler(404))
    app.add_exception_handler(TerminalError, handler(409))
    app.add_exception_handler(DelegationError, handler(422))
    app.add_exception_handler(WorkingDirectoryError, handler(400))
    app.add_exception_handler(ValueError, handler(400))
    from cao.runtime.executor import RunError

    app.add_exception_handler(RunError, handler(422))
    app.add_exception_handler(LookupError, handler(404))
