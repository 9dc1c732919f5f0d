"""HTTP client of the cao-server, shared by the CLI, cao-mcp-server and scripts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import httpx

from cao import config


class ServerUnavailable(RuntimeError):
    pass


class ApiError(RuntimeError):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


class CaoClient:
    def __init__(self, base_url: str | None = None, timeout: float = 30.0):
        self.base_url = base_url or config.server_url()
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any) -> Any:
        try:
            resp = self.http.request(method, path, timeout=timeout if timeout is not None
                                     else self.http.timeout, **kwargs)
        except httpx.ConnectError as exc:
            raise ServerUnavailable(
                f"no cao-server answers at {self.base_url}; start one with `cao-server` "
                "(or `cao server`)") from exc
        if resp.status_code >= 400:
            try:
                detail = resp.json().get("detail", resp.text)
            except ValueError:
                detail = resp.text
            if not isinstance(detail, str):
                detail = str(detail)
            raise ApiError(resp.status_code, detail)
        return resp.json()

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, json=json, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

    def healthy(self) -> bool:
        try:
            return self.http.get("/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


def ensure_server(client: CaoClient, wait: float = 20.0) -> bool:
    """Start a cao-server in the background when none answers; True if we started one."""
    if client.healthy():
        return False
    log_path = config.logs_dir() / "server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        subprocess.Popen([sys.executable, "-m", "cao.server.main"], stdout=log, stderr=log,
                         stdin=subprocess.DEVNULL, start_new_session=True, env=os.environ.copy())
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if client.healthy():
            return True
        time.sleep(0.05)
    raise ServerUnavailable(f"started a cao-server but it did not answer within {wait:.0f}s; "
                            f"see {log_path}")
