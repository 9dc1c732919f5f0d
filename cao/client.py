"""HTTP client of the cao-server, shared by the CLI, cao-mcp-server and scripts."""

from __future__ import annotations

import asyncio
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
        return _raise_for(resp)

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


def _raise_for(resp: httpx.Response) -> Any:
    if resp.status_code >= 400:
        try:
            detail = resp.json().get("detail", resp.text)
        except ValueError:
            detail = resp.text
        raise ApiError(resp.status_code, detail if isinstance(detail, str) else str(detail))
    return resp.json()


# A handoff's waiter keeps asking this long past the server's own deadline, so it never
# gives up before the server does, and rides out a server restart in between.
HANDOFF_MARGIN = 30.0
HANDOFF_POLL = 25.0   # seconds per long poll
START_RETRY = 10.0    # a server restarting right now: how long a new handoff waits for it


async def post_when_up(http: httpx.AsyncClient, path: str, body: dict[str, Any], *,
                       timeout: float, retry_for: float = START_RETRY) -> Any:
    """POST, retrying for `retry_for` seconds while the connection is refused (a server
    restarting right now). Only a refused connection is retried: then nothing reached the
    server, so nothing can happen twice."""
    give_up = time.monotonic() + retry_for
    while True:
        try:
            return _raise_for(await http.post(path, json=body, timeout=timeout))
        except httpx.ConnectError:
            if time.monotonic() > give_up:
                url = str(http.base_url).rstrip("/")
                raise ServerUnavailable(
                    f"cao-server is not reachable at {url}; it must be running for "
                    "delegation to work (start it with `cao-server`)") from None
            await asyncio.sleep(0.5)


async def handoff_and_wait(body: dict[str, Any], timeout: float,
                           base_url: str | None = None) -> dict[str, Any]:
    """Start a handoff and wait for its outcome, riding out a restart of the server.

    The server records the handoff before the worker gets its task and finishes it after a
    restart, so a lost connection is not a lost handoff: the wait reconnects and asks again
    by id until the server's deadline (plus a margin) has passed.
    """
    base_url = base_url or config.server_url()
    deadline = time.monotonic() + timeout + HANDOFF_MARGIN
    async with httpx.AsyncClient(base_url=base_url, trust_env=False) as http:
        record = await post_when_up(http, "/orchestration/handoff",
                                    {**body, "timeout": timeout, "wait": False}, timeout=120)
        outage_since: float | None = None
        while not record["done"]:
            left = deadline - time.monotonic()
            if left <= 0:
                why = ("the cao-server has not answered since "
                       f"{time.monotonic() - outage_since:.0f}s ago" if outage_since else
                       "the server did not report an outcome in time")
                raise ServerUnavailable(
                    f"handoff {record['id']} (worker terminal {record['terminal_id']}): {why}; "
                    "once a cao-server runs again it finishes the handoff, and "
                    f"`cao agent handoff-result {record['id']}` prints the answer")
            wait = min(HANDOFF_POLL, max(0.0, left - 1))
            try:
                resp = await http.get(f"/orchestration/handoffs/{record['id']}",
                                      params={"wait": wait}, timeout=wait + 15)
            except httpx.TransportError:
                outage_since = outage_since or time.monotonic()
                await asyncio.sleep(0.5)
                continue
            if resp.status_code >= 500:
                await asyncio.sleep(0.5)
                continue
            outage_since = None
            record = _raise_for(resp)
    return record


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
