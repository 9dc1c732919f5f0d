"""HTTP front of the fake model: routes each dialect, logs every request, takes scripts.

Control endpoints (for a fake started as a subprocess):
    POST /_script   {"rules": [...], "append": false}   set (or extend) the script
    POST /_reset                                        forget rules, pending calls, log
    GET  /_log                                          the request log as a JSON list
    GET  /_health                                       200 "ok"
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import anthropic, gemini, openai_chat, openai_responses
from .model import Conversation
from .script import Decision, Rule, Script, is_side_request

SECRET_HEADERS = {"authorization", "x-api-key", "x-goog-api-key", "api-key",
                  "proxy-authorization", "cookie"}
GEMINI_RE = re.compile(r"^/v1(?:beta|alpha)?/models/([^/:]+):(streamGenerateContent|generateContent)$")


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("<redacted>" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


class FakeLLM:
    """A scripted fake model server on a loopback port, run in a background thread.

        with FakeLLM() as fake:
            fake.set_script([{"match": "hello", "reply": {"say": "hi there"}}])
            env = {"ANTHROPIC_BASE_URL": fake.url, ...}
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, log_path: Path | str | None = None):
        self.script = Script()
        self.requests: list[dict[str, Any]] = []
        self.log_path = Path(log_path) if log_path else None
        self._log_lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _make_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FakeLLM":
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fakellm",
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeLLM":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- scripting ------------------------------------------------------------------
    def set_script(self, rules: list[Rule | dict[str, Any]]) -> None:
        self.script.set_rules(rules)

    def add_rules(self, rules: list[Rule | dict[str, Any]]) -> None:
        self.script.add_rules(rules)

    def reset(self) -> None:
        self.script = Script()
        with self._log_lock:
            self.requests.clear()

    def main_requests(self) -> list[dict[str, Any]]:
        """Logged requests that were not side requests (titles, routers, ...)."""
        return [r for r in self.requests if not str(r.get("decision", "")).startswith("side")]

    # -- logging --------------------------------------------------------------------
    def log(self, entry: dict[str, Any]) -> None:
        with self._log_lock:
            self.requests.append(entry)
            if self.log_path:
                with self.log_path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry) + "\n")


def _make_handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # small SSE writes must not wait for ACKs

        def log_message(self, *args: Any) -> None:  # the JSON log replaces stderr noise
            pass

        # -- plumbing ------------------------------------------------------------------
        def _body(self) -> Any:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return {}
            try:
                return json.loads(raw)
            except json.JSONDecodeError:
                return {"_raw": raw.decode("utf-8", "replace")}

        def _send_json(self, data: Any, status: int = 200) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _send_stream(self, chunks: Any, chunk_delay: float) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for i, data in enumerate(chunks):
                if i and chunk_delay:
                    time.sleep(chunk_delay)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        # -- routes --------------------------------------------------------------------
        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/_health":
                self._send_json("ok")
            elif path == "/_log":
                self._send_json(fake.requests)
            elif path.endswith("/models"):
                self._send_json({"object": "list", "data": [
                    {"id": "fake-model", "object": "model", "owned_by": "fake"}]})
            else:
                self._send_json({"error": f"fakellm: no GET route {path}"}, 404)

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            body = self._body()
            if url.path == "/_script":
                rules = body.get("rules") or []
                (fake.add_rules if body.get("append") else fake.set_script)(rules)
                self._send_json({"rules": len(fake.script.rules)})
                return
            if url.path == "/_reset":
                fake.reset()
                self._send_json("reset")
                return
            entry: dict[str, Any] = {
                "time": time.time(), "method": "POST", "path": url.path,
                "query": {k: ("<redacted>" if k == "key" else v)
                          for k, v in parse_qs(url.query).items()},
                "headers": redact_headers(dict(self.headers.items())), "body": body,
            }
            try:
                self._dispatch(url.path, url.query, body, entry)
            finally:
                if not entry.get("_logged"):
                    fake.log(entry)

        def _dispatch(self, path: str, query: str, body: dict[str, Any],
                      entry: dict[str, Any]) -> None:
            gem = GEMINI_RE.match(path)
            if path.endswith("/messages"):
                conv = anthropic.parse(body)
                dialect: Any = anthropic
            elif path.endswith("/responses"):
                conv, dialect = openai_responses.parse(body), openai_responses
            elif path.endswith("/chat/completions"):
                conv, dialect = openai_chat.parse(body), openai_chat
            elif gem:
                stream = gem.group(2) == "streamGenerateContent"
                conv, dialect = gemini.parse(body, gem.group(1), stream), gemini
            else:
                entry["decision"] = "404"
                self._send_json({"error": f"fakellm: no route {path}"}, 404)
                return
            entry["dialect"] = conv.dialect
            decision = fake.script.decide(conv, side=_is_side(conv, gem is not None))
            entry["decision"] = decision.note
            entry["user_text"] = conv.user_text
            # Log before answering, so a client that got its answer finds the entry.
            fake.log(entry)
            entry["_logged"] = True
            if decision.delay:
                time.sleep(decision.delay)
            self._reply(dialect, conv, decision, body)

        def _reply(self, dialect: Any, conv: Conversation, decision: Decision,
                   body: dict[str, Any]) -> None:
            model = conv.model or "fake-model"
            if not conv.stream:
                self._send_json(dialect.render_json(decision.reply, model))
            elif dialect is openai_chat:
                usage = bool((body.get("stream_options") or {}).get("include_usage"))
                self._send_stream(openai_chat.render_stream(decision.reply, model, usage),
                                  decision.chunk_delay)
            else:
                self._send_stream(dialect.render_stream(decision.reply, model),
                                  decision.chunk_delay)

    return Handler


def _is_side(conv: Conversation, is_gemini: bool) -> bool:
    if is_side_request(conv):
        return True
    # Gemini CLI's non-streaming calls without tools are its router and session summary.
    return is_gemini and not conv.stream and not conv.tools
