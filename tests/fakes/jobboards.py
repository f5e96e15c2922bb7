"""Fake public job-board APIs on 127.0.0.1: Greenhouse, Lever, Ashby, SmartRecruiters and a
listings file, answering in the shapes of the providers' documentation.

Tests put postings (in the provider's own JSON) on a board, script failures, and read what was
asked. Paging follows each provider (Lever's skip/limit, SmartRecruiters' offset/limit);
Greenhouse, Ashby and listings answer with an ETag and honour If-None-Match.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Asked:
    provider: str
    board: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeJobBoards:
    # Postings by (provider, board), in the provider's JSON.
    boards: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    # A whole answer body to send instead (a bad payload), by (provider, board).
    raw: dict[tuple[str, str], bytes] = field(default_factory=dict)
    # Scripted error statuses, answered in turn before the real answer.
    failures: dict[tuple[str, str], deque[int]] = field(default_factory=lambda: defaultdict(deque))
    asked: list[Asked] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, provider: str, board: str, postings: list[dict[str, Any]]) -> None:
        with self.lock:
            self.boards[(provider, board)] = postings
            self.raw.pop((provider, board), None)

    def fail(self, provider: str, board: str, *statuses: int) -> None:
        with self.lock:
            self.failures[(provider, board)].extend(statuses)

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def asked_of(self, provider: str, board: str) -> list[Asked]:
        return [a for a in self.asked if (a.provider, a.board) == (provider, board)]

    # The answers

    def answer(
        self, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, bytes, dict[str, str]]:
        route = _route(path)
        if route is None:
            return 404, b'{"error": "not found"}', {}
        provider, board = route
        with self.lock:
            self.asked.append(Asked(provider, board, query, headers))
            failures = self.failures[(provider, board)]
            if failures:
                status = failures.popleft()
                return status, json.dumps({"error": "scripted"}).encode(), {"Retry-After": "0"}
            if (provider, board) in self.raw:
                return 200, self.raw[(provider, board)], {}
            postings = self.boards.get((provider, board))
        if postings is None:
            return 404, b'{"status": 404, "error": "Job board not found"}', {}
        body = _BODIES[provider](postings, query)
        extra: dict[str, str] = {}
        if provider in ("greenhouse", "ashby", "listings"):
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if headers.get("if-none-match") == etag:
                return 304, b"", {"ETag": etag}
            extra["ETag"] = etag
        return 200, body, extra


def _route(path: str) -> tuple[str, str] | None:
    parts = [unquote(part) for part in path.strip("/").split("/")]
    if len(parts) == 4 and parts[:2] == ["v1", "boards"] and parts[3] == "jobs":
        return "greenhouse", parts[2]
    if len(parts) == 3 and parts[:2] == ["v0", "postings"]:
        return "lever", parts[2]
    if len(parts) == 3 and parts[:2] == ["posting-api", "job-board"]:
        return "ashby", parts[2]
    if len(parts) == 4 and parts[:2] == ["v1", "companies"] and parts[3] == "postings":
        return "smartrecruiters", parts[2]
    if len(parts) == 2 and parts[0] == "listings":
        return "listings", parts[1]
    return None


def _int(query: dict[str, str], key: str, default: int) -> int:
    try:
        return int(query.get(key, default))
    except ValueError:
        return default


def _greenhouse(postings: list[dict[str, Any]], query: dict[str, str]) -> bytes:
    jobs = postings
    if query.get("content") != "true":
        jobs = [{k: v for k, v in job.items() if k not in ("content", "departments", "offices")}
                for job in postings]  # fmt: skip
    return json.dumps({"jobs": jobs, "meta": {"total": len(jobs)}}).encode()


def _lever(postings: list[dict[str, Any]], query: dict[str, str]) -> bytes:
    skip, limit = _int(query, "skip", 0), _int(query, "limit", len(postings) or 1)
    return json.dumps(postings[skip : skip + limit]).encode()


def _ashby(postings: list[dict[str, Any]], query: dict[str, str]) -> bytes:
    return json.dumps({"apiVersion": "1", "jobs": postings}).encode()


def _smartrecruiters(postings: list[dict[str, Any]], query: dict[str, str]) -> bytes:
    offset, limit = _int(query, "offset", 0), min(_int(query, "limit", 10), 100)
    page = postings[offset : offset + limit]
    return json.dumps(
        {"offset": offset, "limit": limit, "totalFound": len(postings), "content": page}
    ).encode()


def _listings(postings: list[dict[str, Any]], query: dict[str, str]) -> bytes:
    return json.dumps(postings).encode()


_BODIES = {
    "greenhouse": _greenhouse,
    "lever": _lever,
    "ashby": _ashby,
    "smartrecruiters": _smartrecruiters,
    "listings": _listings,
}


def serve(boards: FakeJobBoards) -> ThreadingHTTPServer:
    """Start answering on a free loopback port, in a thread; ``shutdown()`` stops it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            split = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body, extra = boards.answer(split.path, query, headers)
            self.send_response(status)
            if status != 304:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    boards.server = server
    return server
