"""A local fake of the Slack Web API, for tests.

It listens on 127.0.0.1 on a free port, in a thread of its own, so sync code,
async code and subprocesses can all call it. Every call is recorded with its
full body (form, query string or JSON) so a test can read the message it
asserts on. Failures are chosen per test:

    fake.rate_limit("chat.postMessage", on_calls={51}, retry_after=30)
    fake.server_error("users.info", on_calls={1, 2}, status=503)
    fake.fail("chat.postMessage", "cannot_dm_bot", when=lambda body: ...)

Tests wait on what happened (``wait_for``), never on time.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

VALID_TOKEN = "xoxb-test-token"
BOT_USER_ID = "UBOT0001"
TEAM_ID = "T0TEST001"
MAX_BLOCKS = 50
MAX_TEXT = 40_000


@dataclass
class Call:
    """One recorded Web API call."""

    method: str
    body: dict[str, Any]
    token: str | None
    number: int  # 1-based count of calls to this method, failures included


@dataclass
class Rule:
    method: str
    status: int = 200
    error: str | None = None
    on_calls: set[int] | None = None
    when: Callable[[dict[str, Any]], bool] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = None  # how many times the rule may still fire

    def matches(self, call: Call) -> bool:
        if call.method != self.method:
            return False
        if self.on_calls is not None and call.number not in self.on_calls:
            return False
        if self.when is not None and not self.when(call.body):
            return False
        return self.times is None or self.times > 0


def _flatten(values: dict[str, list[str]]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, items in values.items():
        value: Any = items[-1]
        if key in ("blocks", "metadata", "view", "attachments") and value:
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        body[key] = value
    return body


class FakeSlack:
    """The fake Web API: users, failures, recorded calls and posted messages."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.rules: list[Rule] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.tokens = {VALID_TOKEN: None}  # token -> error it now gets
        self.hooks: dict[tuple[str, int], Callable[[], None]] = {}
        self._counts: dict[str, int] = {}
        self._ts = itertools.count(1)
        self._lock = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle ---------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/"

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- arranging -----------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        email: str | None = None,
        *,
        name: str = "",
        tz: str = "UTC",
        deleted: bool = False,
        is_bot: bool = False,
    ) -> dict[str, Any]:
        user = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name or user_id.lower(),
            "deleted": deleted,
            "is_bot": is_bot,
            "tz": tz,
            "tz_offset": 0,
            "profile": {"email": email, "real_name": name},
        }
        with self._lock:
            self.users[user_id] = user
        return user

    def add_usergroup(self, group_id: str, user_ids: Iterable[str]) -> None:
        with self._lock:
            self.usergroups[group_id] = list(user_ids)

    def rate_limit(
        self, method: str, *, on_calls: Iterable[int], retry_after: int = 30
    ) -> None:
        self.rules.append(
            Rule(
                method,
                status=429,
                error="ratelimited",
                on_calls=set(on_calls),
                headers={"Retry-After": str(retry_after)},
            )
        )

    def server_error(
        self, method: str, *, on_calls: Iterable[int], status: int = 503
    ) -> None:
        self.rules.append(Rule(method, status=status, on_calls=set(on_calls)))

    def fail(
        self,
        method: str,
        error: str,
        *,
        when: Callable[[dict[str, Any]], bool] | None = None,
        on_calls: Iterable[int] | None = None,
        times: int | None = None,
    ) -> None:
        """Answer ``ok: false`` with ``error`` to matching calls."""
        self.rules.append(
            Rule(
                method,
                error=error,
                when=when,
                on_calls=set(on_calls) if on_calls is not None else None,
                times=times,
            )
        )

    def after_call(self, method: str, number: int, hook: Callable[[], None]) -> None:
        """Run ``hook`` once the Nth call to ``method`` took effect, before answering
        (for example to kill the caller while Slack has done the work)."""
        self.hooks[(method, number)] = hook

    def revoke(self, token: str = VALID_TOKEN, error: str = "token_revoked") -> None:
        with self._lock:
            self.tokens[token] = error

    # -- reading -------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def delivered(self) -> list[dict[str, Any]]:
        """Every message chat.postMessage accepted, in order."""
        with self._lock:
            return [m for ms in self.messages.values() for m in ms if m["posted"]]

    def delivered_to(self, channel_or_user: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.delivered()
            if channel_or_user in (m["channel"], m["requested_channel"])
        ]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10) -> list[Call]:
        """Block until ``count`` calls to ``method`` were recorded."""
        with self._lock:
            done = self._lock.wait_for(
                lambda: len([c for c in self.calls if c.method == method]) >= count,
                timeout=timeout,
            )
            if not done:
                raise TimeoutError(f"{method} was not called {count} time(s)")
            return [c for c in self.calls if c.method == method]

    # -- answering -------------------------------------------------------------

    def _record(self, method: str, body: dict[str, Any], token: str | None) -> Call:
        with self._lock:
            self._counts[method] = self._counts.get(method, 0) + 1
            call = Call(method, body, token, self._counts[method])
            self.calls.append(call)
            self._lock.notify_all()
            return call

    def _rule_for(self, call: Call) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(call):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None

    def answer(
        self, method: str, body: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, str], Any]:
        call = self._record(method, body, token)
        rule = self._rule_for(call)
        if rule is not None and rule.status != 200:
            if rule.status == 429:
                payload = {"ok": False, "error": "ratelimited"}
                return 429, rule.headers, payload
            return rule.status, rule.headers, None
        if token not in self.tokens:
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        if self.tokens[token]:
            return 200, {}, {"ok": False, "error": self.tokens[token]}
        if rule is not None and rule.error:
            return 200, {}, {"ok": False, "error": rule.error}
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {}, {"ok": False, "error": "unknown_method"}
        payload = handler(body)
        hook = self.hooks.pop((method, call.number), None)
        if hook is not None:
            hook()
        return 200, {}, payload

    def _auth_test(self, body):
        return {"ok": True, "user_id": BOT_USER_ID, "team_id": TEAM_ID, "bot_id": "B01"}

    def _find_user(self, user_id: str | None) -> dict[str, Any] | None:
        with self._lock:
            return self.users.get(user_id or "")

    def _users_info(self, body):
        user = self._find_user(body.get("user"))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    def _users_lookupByEmail(self, body):
        wanted = (body.get("email") or "").strip().lower()
        with self._lock:
            for user in self.users.values():
                email = (user["profile"].get("email") or "").lower()
                if email == wanted and not user["deleted"]:
                    return {"ok": True, "user": user}
        return {"ok": False, "error": "users_not_found"}

    def _dm_channel(self, user_id: str) -> str | None:
        user = self._find_user(user_id)
        if user is None:
            return None
        return "D" + user_id[1:]

    def _conversations_open(self, body):
        users = (body.get("users") or "").split(",")
        user = self._find_user(users[0])
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        if user["is_bot"]:
            return {"ok": False, "error": "cannot_dm_bot"}
        if user["deleted"]:
            return {"ok": False, "error": "user_disabled"}
        return {"ok": True, "channel": {"id": self._dm_channel(user["id"])}}

    def _channel_for(self, requested: str) -> tuple[str | None, str | None]:
        if requested.startswith(("U", "W")):
            user = self._find_user(requested)
            if user is None:
                return None, "channel_not_found"
            if user["is_bot"]:
                return None, "cannot_dm_bot"
            return self._dm_channel(requested), None
        if requested.startswith("D"):
            user = self._find_user("U" + requested[1:]) or self._find_user(
                "W" + requested[1:]
            )
            if user is not None and user["is_bot"]:
                return None, "cannot_dm_bot"
        return requested, None

    def _chat_postMessage(self, body):
        requested = body.get("channel") or ""
        channel, error = self._channel_for(requested)
        if error:
            return {"ok": False, "error": error}
        blocks = body.get("blocks")
        if blocks is not None and (
            not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS
        ):
            return {
                "ok": False,
                "error": "invalid_blocks",
                "response_metadata": {"messages": ["[ERROR] too many blocks"]},
            }
        if len(body.get("text") or "") > MAX_TEXT:
            return {"ok": False, "error": "msg_too_long"}
        ts = f"1790000000.{next(self._ts):06d}"
        message = {
            "channel": channel,
            "requested_channel": requested,
            "ts": ts,
            "text": body.get("text"),
            "blocks": blocks,
            "metadata": body.get("metadata"),
            "posted": True,
        }
        with self._lock:
            self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_update(self, body):
        channel, ts = body.get("channel"), body.get("ts")
        with self._lock:
            for message in self.messages.get(channel, []):
                if message["ts"] == ts:
                    message["text"] = body.get("text")
                    message["blocks"] = body.get("blocks")
                    return {"ok": True, "channel": channel, "ts": ts}
        return {"ok": False, "error": "message_not_found"}

    def _conversations_history(self, body):
        channel = body.get("channel") or ""
        oldest = float(body.get("oldest") or 0)
        with self._lock:
            found = [
                {
                    "ts": m["ts"],
                    "text": m["text"],
                    **({"metadata": m["metadata"]} if m["metadata"] else {}),
                }
                for m in self.messages.get(channel, [])
                if float(m["ts"]) >= oldest
            ]
        return {"ok": True, "messages": list(reversed(found)), "has_more": False}

    def _views_publish(self, body):
        return {"ok": True, "view": {"id": "V0HOME", **(body.get("view") or {})}}

    def _views_open(self, body):
        return {"ok": True, "view": {"id": "V0MODAL", **(body.get("view") or {})}}

    def _usergroups_users_list(self, body):
        group = body.get("usergroup")
        with self._lock:
            if group not in self.usergroups:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": list(self.usergroups[group])}

    # -- HTTP ----------------------------------------------------------------

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _body(self) -> dict[str, Any]:
                query = self.path.partition("?")[2]
                body = _flatten(parse_qs(query))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                kind = self.headers.get("Content-Type", "")
                if raw and kind.startswith("application/json"):
                    body.update(json.loads(raw))
                elif raw:
                    body.update(_flatten(parse_qs(raw.decode("utf-8"))))
                return body

            def _token(self, body: dict[str, Any]) -> str | None:
                header = self.headers.get("Authorization", "")
                if header.startswith("Bearer "):
                    return header[len("Bearer ") :]
                return body.pop("token", None)

            def _serve(self):
                method = self.path.partition("?")[0].rsplit("/", 1)[-1]
                body = self._body()
                status, headers, payload = fake.answer(method, body, self._token(body))
                if payload is None:
                    raw = f"<html>{status} {HTTPStatus(status).phrase}</html>".encode()
                    kind = "text/html"
                else:
                    raw = json.dumps(payload).encode()
                    kind = "application/json; charset=utf-8"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(raw)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            do_GET = _serve
            do_POST = _serve

        return Handler


def start_fake_slack() -> FakeSlack:
    """A started fake; the caller stops it."""
    return FakeSlack().start()
