"""A fake Hugging Face daily-papers API over real HTTP on 127.0.0.1.

`GET /api/daily_papers?date=YYYY-MM-DD&limit=N&p=P` answers page P (from 0) of N entries
(default 50, the real API's default, at most 100) of those set for that date, shaped like
huggingface.co's; `paging = "ignore_p"` answers the first page whatever `p` says and
`"ignore_all"` every entry at once (older APIs; a fetcher must stop, not loop);
`GET /api/papers/{id}` answers the paper object set with set_paper(id, obj)
(a daily-papers entry's `paper`), else 404. Modes: "ok", "error" (HTTP 500), "slow" (sleeps
`slow_seconds` before answering), "garbage" (not JSON), "shape" (JSON but not a list).
`fail_next(n)` makes the next n requests answer 500, then recover.
Point the app at it with HF_API_URL=fake.api_url.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.fakes.local_http import LocalGetServer


def hf_entry(
    arxiv_id: str,
    title: str,
    *,
    summary: str = "",
    authors: tuple[str, ...] = ("Ada Lovelace", "Alan Turing"),
    upvotes: int = 10,
    published: str = "2025-08-19T13:00:00.000Z",
    github: str | None = None,
    project_page: str | None = None,
    ai_summary: str | None = None,
    ai_keywords: tuple[str, ...] = (),
    comments: int = 3,
) -> dict[str, Any]:
    """One daily-papers entry, as the real API shapes it (extra fields included)."""
    summary = summary or f"We study {title.lower()}. Our method improves results."
    return {
        "paper": {
            "id": arxiv_id,
            "authors": [
                {"_id": f"a{i}", "name": name, "hidden": False} for i, name in enumerate(authors)
            ],
            "mediaUrls": [],
            "publishedAt": published,
            "submittedOnDailyAt": published,
            "title": title,
            "summary": summary,
            "upvotes": upvotes,
            "discussionId": f"d{arxiv_id}",
            "githubRepo": github,
            **({"projectPage": project_page} if project_page else {}),
            "ai_summary": summary[:80] if ai_summary is None else ai_summary,
            "ai_keywords": list(ai_keywords),
        },
        "publishedAt": published,
        "title": title,
        "summary": summary,
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{arxiv_id}.png",
        "numComments": comments,
        "submittedBy": {"_id": "u1", "avatarUrl": "", "fullname": "Someone", "name": "someone"},
        "isAuthorParticipating": False,
    }


@dataclass
class Request:
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    at: float = field(default_factory=time.time)


class FakeHF(LocalGetServer):
    def __init__(self) -> None:
        self.days: dict[str, list[Any]] = {}
        self.papers: dict[str, Any] = {}
        self.requests: list[Request] = []
        self.mode = "ok"
        self.paging = "real"  # | "ignore_p" | "ignore_all"
        self.slow_seconds = 2.0
        self._fail_next = 0
        self._lock = threading.Lock()

    # --- set-up -----------------------------------------------------------------------
    def set_day(self, day: date | str, entries: list[Any]) -> None:
        with self._lock:
            self.days[str(day)] = list(entries)

    def set_paper(self, paper_id: str, paper: Any) -> None:
        """What GET /api/papers/{paper_id} answers (e.g. hf_entry(...)["paper"])."""
        with self._lock:
            self.papers[paper_id] = paper

    def fail_next(self, n: int) -> None:
        with self._lock:
            self._fail_next = n

    # --- HTTP -------------------------------------------------------------------------
    def _page(self, entries: list[Any], params: dict[str, str]) -> list[Any]:
        """The page asked for, as the real API cuts it (limit defaults to 50, at most 100)."""
        if self.paging == "ignore_all":
            return entries
        try:
            limit = min(int(params.get("limit", "50")), 100)
            page = int(params.get("p", "0")) if self.paging == "real" else 0
        except ValueError:
            return []
        return entries[page * limit : (page + 1) * limit]

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        url = urlparse(req.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self._lock:
            self.requests.append(
                Request(url.path, params, {k.lower(): v for k, v in req.headers.items()})
            )
            failing = self._fail_next > 0
            if failing:
                self._fail_next -= 1
            mode = self.mode
            entries = self._page(self.days.get(params.get("date", ""), []), params)
            paper = self.papers.get(url.path.removeprefix("/api/papers/"))
        if url.path.startswith("/api/papers/") and not (failing or mode == "error"):
            if paper is None:
                return self._send(req, 404, b'{"error":"Paper not found"}')
            return self._send(req, 200, json.dumps(paper).encode())
        if url.path != "/api/daily_papers" and not url.path.startswith("/api/papers/"):
            return self._send(req, 404, b'{"error":"Not Found"}')
        if failing or mode == "error":
            return self._send(req, 500, b'{"error":"Internal Error"}')
        if mode == "slow":
            time.sleep(self.slow_seconds)
        if mode == "garbage":
            return self._send(req, 200, b"<html>upstream hiccup</html>", "text/html")
        if mode == "shape":
            return self._send(req, 200, b'{"error": "Invalid date"}')
        self._send(req, 200, json.dumps(entries).encode())

    @staticmethod
    def _send(
        req: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        ctype: str = "application/json; charset=utf-8",
    ) -> None:
        try:
            req.send_response(status)
            req.send_header("Content-Type", ctype)
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            req.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)
