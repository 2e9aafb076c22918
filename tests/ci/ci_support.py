"""What the CI tests share: a fake GitHub REST API (a real HTTP server on 127.0.0.1, in a
thread) for the comment step; the git helpers are every test's (tests/git_repo.py)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.git_repo import commit_all, git

__all__ = ["REPOSITORY", "TOKEN", "FakeGithub", "commit_all", "git", "handler"]

TOKEN = "ghs_fake-token-0123456789"
REPOSITORY = "cabinet/client-acme"


@dataclass
class FakeGithub:
    """What the fake API holds and saw: comments per pull request, every request made."""

    url: str = ""
    #: GitHub caps `per_page` at 100; a smaller cap makes pagination testable with few comments.
    max_per_page: int = 100
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    #: (status, message) every request answers with, when set.
    failure: tuple[int, str] | None = None
    next_id: int = 1000

    def add(self, number: int, body: str) -> dict[str, Any]:
        """A comment already on pull request `number`."""
        self.next_id += 1
        comment = {
            "id": self.next_id,
            "body": body,
            "html_url": f"https://github.com/{REPOSITORY}/pull/{number}#issuecomment-{self.next_id}",
        }
        self.comments.setdefault(number, []).append(comment)
        return comment


_LIST = re.compile(rf"^/repos/{REPOSITORY}/issues/(\d+)/comments$")
_ONE = re.compile(rf"^/repos/{REPOSITORY}/issues/comments/(\d+)$")


def handler(state: FakeGithub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep pytest's output clean
            return None

        def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            return dict(json.loads(self.rfile.read(length) or b"{}"))

        def _handle(self, method: str) -> None:
            split = urlsplit(self.path)
            state.requests.append((method, self.path))
            state.authorizations.append(self.headers.get("Authorization", ""))
            if state.failure:
                status, message = state.failure
                return self._answer(status, {"message": message})
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._answer(401, {"message": "Bad credentials"})
            listed, one = _LIST.match(split.path), _ONE.match(split.path)
            if method == "GET" and listed:
                number = int(listed.group(1))
                query = parse_qs(split.query)
                size = min(int(query.get("per_page", ["30"])[0]), state.max_per_page)
                page = int(query.get("page", ["1"])[0])
                items = state.comments.get(number, [])
                headers = {}
                if page * size < len(items):
                    nxt = f"{state.url}{split.path}?per_page={size}&page={page + 1}"
                    headers["Link"] = f'<{nxt}>; rel="next", <{nxt}>; rel="last"'
                return self._answer(200, items[(page - 1) * size : page * size], headers)
            if method == "POST" and listed:
                comment = state.add(int(listed.group(1)), self._body()["body"])
                return self._answer(201, comment)
            if method == "PATCH" and one:
                for items in state.comments.values():
                    for comment in items:
                        if comment["id"] == int(one.group(1)):
                            comment["body"] = self._body()["body"]
                            return self._answer(200, comment)
            return self._answer(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

    return Handler
