"""Create or update the one pull-request comment of `koncept diff` through the GitHub REST API.

    python -m engine.ci.comment --body diff.md [--marker '<!-- koncept-diff -->']

Run by the GitHub Action (`action.yml`) after `koncept diff --format markdown`. It is a module,
not a `koncept` subcommand: it is GitHub plumbing that consultants never type, it must not
show in `koncept --help` or the shell completion, and it needs only the standard library.

What it reads, as a GitHub runner sets it: the token from `GITHUB_TOKEN` (never printed), the
API from `GITHUB_API_URL` (default https://api.github.com; tests point it at a local fake), the
repository from `GITHUB_REPOSITORY` (`owner/name`) and the pull request's number from the event
file `GITHUB_EVENT_PATH`. The comment is found by a hidden marker in its body: the comments of
the pull request are listed page by page (the `Link: rel="next"` header), the first that holds
the marker is updated (PATCH), else one is created (POST). Its URL goes to `GITHUB_OUTPUT` as
`comment-url` when that file is set.

Exit codes: 0 the comment was created or updated (or the event is not a pull request: nothing
to do); 1 the API refused or could not be reached (one line: method, path, status, GitHub's
message); 2 usage error (no token, no repository, unreadable body or event file).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["MARKER", "MAX_BODY", "ApiError", "Github", "main", "pull_request_number", "upsert"]

#: The hidden line that marks the comment as koncept's own.
MARKER = "<!-- koncept-diff -->"
#: GitHub refuses a comment body longer than this many characters.
MAX_BODY = 65_536
_TIMEOUT = 30
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


class ApiError(Exception):
    """The API answered with an error status, or could not be reached."""


class UsageError(Exception):
    """Something the step was given is missing or unreadable."""


class Github:
    """The few calls of the REST API the comment needs, with the token in a header only."""

    def __init__(self, api: str, repository: str, token: str) -> None:
        self.api = api.rstrip("/")
        self.repository = repository
        self._token = token

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One call; returns the decoded JSON answer, or raises ApiError."""
        return self._send(method, self.api + path, body)[0]

    def pages(self, path: str) -> Iterator[Any]:
        """Every item of a paginated list, following the `Link: rel="next"` headers."""
        url: str | None = self.api + path
        while url is not None:
            items, url = self._send("GET", url, None)
            yield from items

    def _send(self, method: str, url: str, body: dict[str, Any] | None) -> tuple[Any, str | None]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("User-Agent", "koncept-rules")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        where = f"{method} {urllib.parse.urlsplit(url).path}"
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as answer:
                text = answer.read().decode("utf-8")
                link = answer.headers.get("Link", "")
        except urllib.error.HTTPError as error:
            raise ApiError(
                f"{where} answered {error.code} {error.reason}: {_message(error)}"
            ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ApiError(f"{where}: cannot reach {self.api}: {reason}") from None
        try:
            decoded = json.loads(text) if text else None
        except json.JSONDecodeError:
            raise ApiError(f"{where}: the answer is not JSON") from None
        found = _NEXT.search(link)
        return decoded, found.group(1) if found else None


def _message(error: urllib.error.HTTPError) -> str:
    """GitHub's own message of an error answer (`{"message": ...}`), else its first line."""
    try:
        text = error.read().decode("utf-8", errors="replace")
    except OSError:
        return "no message"
    try:
        message = json.loads(text).get("message")
    except (json.JSONDecodeError, AttributeError):
        message = None
    if message:
        return str(message)
    lines = text.strip().splitlines()
    return lines[0] if lines else "no message"


def pull_request_number(event: dict[str, Any]) -> int | None:
    """The pull request's number in a GitHub event, or None for another event (a push)."""
    for key in ("pull_request", "issue"):
        item = event.get(key)
        if isinstance(item, dict) and isinstance(item.get("number"), int):
            if key == "issue" and "pull_request" not in item:
                return None  # a comment on an issue, not on a pull request
            return int(item["number"])
    return None


def upsert(github: Github, number: int, body: str, marker: str = MARKER) -> tuple[str, Any]:
    """Update the comment holding `marker` on pull request `number`, else create it; returns
    ("created" or "updated", the comment as the API gave it)."""
    text = _within_limit(f"{marker}\n{body}")
    base = f"/repos/{github.repository}/issues"
    for comment in github.pages(f"{base}/{number}/comments?per_page=100"):
        if marker in str(comment.get("body") or ""):
            updated = github.request("PATCH", f"{base}/comments/{comment['id']}", {"body": text})
            return "updated", updated
    return "created", github.request("POST", f"{base}/{number}/comments", {"body": text})


def _within_limit(text: str) -> str:
    """The body cut to GitHub's limit, saying so (`koncept diff` already keeps within it)."""
    if len(text) <= MAX_BODY:
        return text
    note = "\n\n… (commentaire tronqué : la limite de GitHub est de 65 536 caractères)"
    return text[: MAX_BODY - len(note)] + note


def _environment(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise UsageError(f"{name} is not set (the GitHub runner sets it)")
    return value


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise UsageError(f"cannot read the {what} {path}: {reason}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Post or update the comment; one line on stdout, or one `error:` line on stderr."""
    parser = argparse.ArgumentParser(
        prog="python -m engine.ci.comment",
        description="Create or update the one koncept comment of a pull request.",
    )
    parser.add_argument("--body", type=Path, required=True, help="the Markdown file to post")
    parser.add_argument("--marker", default=MARKER, help=f"the hidden marker ({MARKER})")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if not re.fullmatch(r"<!--(?:(?!-->).)*-->", args.marker, re.DOTALL):
        print(f"error: --marker must be one HTML comment, not {args.marker!r}", file=sys.stderr)
        return 2
    token = os.environ.get("GITHUB_TOKEN", "")
    try:
        if not token.strip():
            raise UsageError("GITHUB_TOKEN is not set: give the action a token (github-token)")
        event_path = Path(_environment("GITHUB_EVENT_PATH"))
        try:
            event = json.loads(_read(event_path, "event file"))
        except json.JSONDecodeError:
            raise UsageError(f"the event file {event_path} is not JSON") from None
        number = pull_request_number(event if isinstance(event, dict) else {})
        if number is None:
            print("not a pull request: no comment to post")
            return 0
        repository = _environment("GITHUB_REPOSITORY")
        body = _read(args.body, "comment body")
        api = os.environ.get("GITHUB_API_URL", "").strip() or "https://api.github.com"
        action, comment = upsert(Github(api, repository, token.strip()), number, body, args.marker)
    except UsageError as error:
        print(f"error: {_hide(str(error), token)}", file=sys.stderr)
        return 2
    except ApiError as error:
        print(f"error: GitHub API: {_hide(str(error), token)}", file=sys.stderr)
        return 1
    url = comment.get("html_url", "") if isinstance(comment, dict) else ""
    print(f"pull request #{number}: comment {action} {url}".rstrip())
    output = os.environ.get("GITHUB_OUTPUT")
    if output and url:
        with open(output, "a", encoding="utf-8") as stream:
            stream.write(f"comment-url={url}\n")
    return 0


def _hide(text: str, token: str) -> str:
    """The message with the token masked, should an answer ever echo it."""
    return text.replace(token.strip(), "***") if token.strip() else text


if __name__ == "__main__":
    sys.exit(main())
