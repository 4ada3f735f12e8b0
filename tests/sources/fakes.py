"""Local fakes of the vendor APIs, serving the Northwind fixtures page by page.

Each fake is an ``httpx.MockTransport`` handler (or, for CLI tests, the same
handler behind a real HTTP server on 127.0.0.1, port 0). Faults are planned
by request number: a status with headers, a connection cut mid-body, or a
connection error. Every request is recorded.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.conftest import NORTHWIND

KEY = "test-key-not-real"


def load(path: str | Path) -> dict:
    return json.loads((NORTHWIND / path).read_text("utf-8"))


def pages(folder: str, prefix: str) -> list[dict]:
    files = sorted((NORTHWIND / folder).glob(f"{prefix}*.json"))
    return [json.loads(file.read_text("utf-8")) for file in files]


# -- faults -------------------------------------------------------------------


class CutBody(httpx.AsyncByteStream):
    """A body that stops half-way, as when the connection drops mid-page."""

    def __init__(self, head: bytes):
        self.head = head

    async def __aiter__(self):
        yield self.head
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )


@dataclass(frozen=True)
class Fault:
    kind: str  # status|cut|read|connect
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)

    def apply(self, request: httpx.Request, answer: Callable[[], httpx.Response]):
        if self.kind == "status":
            body = {"error": {"type": "fault", "message": f"injected {self.status}"}}
            return httpx.Response(self.status, headers=self.headers, json=body)
        if self.kind == "cut":
            full = answer()
            head = full.content[: max(1, len(full.content) // 2)]
            return httpx.Response(
                200, headers={"content-type": "application/json"}, stream=CutBody(head)
            )
        if self.kind == "read":
            raise httpx.ReadError("connection reset by peer", request=request)
        raise httpx.ConnectError("connection refused", request=request)


def too_many(seconds: int | str) -> Fault:
    return Fault("status", 429, {"retry-after": str(seconds)})


def server_error(status: int = 500) -> Fault:
    return Fault("status", status)


CUT = Fault("cut")
RESET = Fault("read")


def json_response(body, *, status: int = 200, headers=None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers or {})


def error(status: int, message: str) -> httpx.Response:
    return json_response(
        {"error": {"type": "error", "message": message}}, status=status
    )


class FakeAPI:
    """Routes, an auth check, planned faults and a log of requests."""

    def __init__(self, *, faults: dict[int, Fault] | None = None):
        self.faults = dict(faults or {})
        self.fail_after: int | None = None  # every request after this many resets
        self.requests: list[httpx.Request] = []
        self.routes: dict[
            tuple[str, str], Callable[[httpx.Request], httpx.Response]
        ] = {}

    def authorised(self, request: httpx.Request) -> bool:
        raise NotImplementedError

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        fault = self.faults.get(len(self.requests))
        if self.fail_after is not None and len(self.requests) > self.fail_after:
            fault = RESET
        if fault is not None:
            return fault.apply(request, lambda: self._answer(request))
        return self._answer(request)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if not self.authorised(request):
            return error(401, "invalid x-api-key")
        route = self.routes.get((request.method, request.url.path))
        if route is None:
            return error(404, f"no route {request.method} {request.url.path}")
        return route(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]


# -- Anthropic and OpenAI: has_more + next_page ------------------------------------


def replay(
    recorded: list[dict], request: httpx.Request, *, keep: Callable[[dict], bool]
) -> httpx.Response:
    """Serve recorded pages in order by their ``next_page`` tokens, buckets filtered."""
    token = request.url.params.get("page")
    index = 0
    if token is not None:
        tokens = [page.get("next_page") for page in recorded]
        if token not in tokens:
            return error(400, f"unknown page {token!r}")
        index = tokens.index(token) + 1
    page = copy.deepcopy(recorded[index])
    page["data"] = [bucket for bucket in page["data"] if keep(bucket)]
    return json_response(page)


def rfc3339_window(request: httpx.Request):
    params = request.url.params
    start = datetime.fromisoformat(params["starting_at"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(params["ending_at"].replace("Z", "+00:00"))

    def keep(bucket: dict) -> bool:
        moment = datetime.fromisoformat(bucket["starting_at"].replace("Z", "+00:00"))
        return start <= moment < end

    return keep


class FakeAnthropic(FakeAPI):
    """Usage and cost reports, users, API keys and Claude Code analytics."""

    def __init__(self, *, faults=None, usage=None, costs=None, day_page_size=4):
        super().__init__(faults=faults)
        self.usage = usage if usage is not None else pages("anthropic", "usage_report")
        self.costs = costs if costs is not None else pages("anthropic", "cost_report")
        self.users = load("anthropic/users.json")
        self.keys = load("anthropic/api_keys.json")
        self.analytics = [
            r for page in pages("claude_code", "page") for r in page["data"]
        ]
        self.day_page_size = day_page_size
        base = "/v1/organizations"
        self.routes = {
            ("GET", f"{base}/usage_report/messages"): self._usage,
            ("GET", f"{base}/cost_report"): self._costs,
            ("GET", f"{base}/users"): lambda request: json_response(self.users),
            ("GET", f"{base}/api_keys"): lambda request: json_response(self.keys),
            ("GET", f"{base}/usage_report/claude_code"): self._claude_code,
        }

    def authorised(self, request: httpx.Request) -> bool:
        return (
            request.headers.get("x-api-key") == KEY
            and request.headers.get("anthropic-version") == "2023-06-01"
        )

    def _usage(self, request):
        return replay(self.usage, request, keep=rfc3339_window(request))

    def _costs(self, request):
        return replay(self.costs, request, keep=rfc3339_window(request))

    def _claude_code(self, request):
        """One UTC day per request (``starting_at``), paged by an opaque cursor."""
        params = request.url.params
        day = params["starting_at"]
        records = [r for r in self.analytics if r["date"][:10] == day]
        size = min(int(params.get("limit", 20)), self.day_page_size)
        offset = 0
        if "page" in params:
            match = re.fullmatch(rf"cc_{day}_(\d+)", params["page"])
            if not match:
                return error(400, "unknown page")
            offset = int(match.group(1))
        more = offset + size < len(records)
        return json_response(
            {
                "data": records[offset : offset + size],
                "has_more": more,
                "next_page": f"cc_{day}_{offset + size}" if more else None,
            }
        )


class FakeOpenAI(FakeAPI):
    def __init__(self, *, faults=None, usage=None, costs=None):
        super().__init__(faults=faults)
        self.usage = (
            usage if usage is not None else pages("openai", "usage_completions")
        )
        self.costs = costs or []
        self.users = load("openai/users.json")
        self.routes = {
            ("GET", "/v1/organization/usage/completions"): self._usage,
            ("GET", "/v1/organization/costs"): self._costs,
            ("GET", "/v1/organization/users"): lambda request: json_response(
                self.users
            ),
        }

    def authorised(self, request: httpx.Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {KEY}"

    def _keep(self, request):
        start = int(request.url.params["start_time"])
        end = int(request.url.params["end_time"])
        return lambda bucket: start <= bucket["start_time"] < end

    def _usage(self, request):
        return replay(self.usage, request, keep=self._keep(request))

    def _costs(self, request):
        return replay(self.costs, request, keep=self._keep(request))


# -- Cursor: page + pageSize in a POST body -----------------------------------------


class FakeCursor(FakeAPI):
    """Pages the single recorded response itself, as the Admin API pages events."""

    def __init__(self, *, faults=None, events=None):
        super().__init__(faults=faults)
        recorded = load("cursor/filtered_usage_events.json")["usageEvents"]
        self.events = events if events is not None else recorded
        self.routes = {("POST", "/teams/filtered-usage-events"): self._events}

    def authorised(self, request: httpx.Request) -> bool:
        expected = base64.b64encode(f"{KEY}:".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    def _events(self, request):
        body = json.loads(request.content)
        start, end = body.get("startDate", 0), body.get("endDate", 2**63)
        page, size = int(body.get("page", 1)), int(body.get("pageSize", 10))
        chosen = [e for e in self.events if start <= int(e["timestamp"]) <= end]
        chosen.sort(key=lambda e: int(e["timestamp"]), reverse=True)
        count = max(1, -(-len(chosen) // size))
        return json_response(
            {
                "totalUsageEventsCount": len(chosen),
                "pagination": {
                    "numPages": count,
                    "currentPage": page,
                    "pageSize": size,
                    "hasNextPage": page < count,
                    "hasPreviousPage": page > 1,
                },
                "usageEvents": chosen[(page - 1) * size : page * size],
                "period": {"startDate": start, "endDate": end},
            }
        )


# -- GitHub: search with a Link header -------------------------------------------------


def _bound(text: str, *, upper: bool) -> datetime:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        moment = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        return moment + timedelta(days=1) if upper else moment
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment + timedelta(seconds=1) if upper else moment


class FakeGitHub(FakeAPI):
    """``/search/issues`` over the recorded pull requests, paged by ``Link``."""

    def __init__(self, *, faults=None, items=None, cap=1000, base="http://github.test"):
        super().__init__(faults=faults)
        recorded = [i for page in pages("github", "search_page") for i in page["items"]]
        self.items = items if items is not None else recorded
        self.cap = cap
        self.base = base
        self.routes = {("GET", "/search/issues"): self._search}

    def authorised(self, request: httpx.Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {KEY}"

    def _search(self, request):
        params = request.url.params
        query = params["q"]
        match = re.search(r"merged:(\S+)\.\.(\S+)", query)
        org = re.search(r"org:(\S+)", query)
        if not match or not org or "is:merged" not in query:
            return error(422, "Validation Failed")
        start, end = (
            _bound(match.group(1), upper=False),
            _bound(match.group(2), upper=True),
        )
        found = [
            item
            for item in self.items
            if start <= _bound(item["pull_request"]["merged_at"], upper=False) < end
        ]
        size, page = int(params.get("per_page", 30)), int(params.get("page", 1))
        reachable = found[: self.cap]
        chunk = reachable[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(reachable):
            url = httpx.URL(f"{self.base}/search/issues").copy_merge_params(
                {"q": query, "per_page": size, "page": page + 1}
            )
            headers["link"] = f'<{url}>; rel="next", <{self.base}/x>; rel="last"'
        body = {"total_count": len(found), "incomplete_results": False, "items": chunk}
        return json_response(body, headers=headers)


# -- a real loopback server around a fake, for CLI tests ---------------------------------


class LoopbackServer:
    """Serves a fake's handler on 127.0.0.1 (port 0) in a thread."""

    def __init__(self, fake: FakeAPI):
        self.fake = fake
        handler = self._handler_class()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def _handler_class(self):
        fake = self.fake

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("content-length") or 0)
                request = httpx.Request(
                    self.command,
                    f"http://{self.headers.get('host', '127.0.0.1')}{self.path}",
                    headers=dict(self.headers.items()),
                    content=self.rfile.read(length) if length else b"",
                )
                response = fake.handler(request)
                body = response.read()
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _serve

            def log_message(self, *args):
                pass

        return Handler


class Sleeps:
    """An injected sleep that records each wait and returns at once."""

    def __init__(self):
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def fixed_clock(moment: datetime | None = None):
    moment = moment or datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    return lambda: moment
