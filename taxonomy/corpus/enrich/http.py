"""A small HTTP client with what polite API use needs: a minimum interval between requests, timeouts,
retries with exponential back-off, and HTTP 429/503 `Retry-After` honoured. Standard library only."""

from __future__ import annotations

import email.utils
import json
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Callable

from taxonomy.errors import UserError

RETRY_STATUS = (429, 500, 502, 503, 504)
USER_AGENT = "mimtax/0.1 (literature taxonomy tool; https://pypi.org/project/mimtax)"


class FetchError(UserError):
    """The service could not be reached or answered something unusable, after every retry."""


class NotFound(Exception):
    """HTTP 404: the service has no such record (not an error for enrichment)."""


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (now if now is not None else time.time()))


@dataclass
class HttpClient:
    base_url: str
    min_interval: float = 0.0  # seconds between the starts of two requests (the service's rate limit)
    timeout: float = 30.0
    retries: int = field(default_factory=lambda: int(os.environ.get("MIMTAX_HTTP_RETRIES", "4")))
    backoff: float = 1.0  # first wait after a failure; doubles each retry
    max_wait: float = 300.0
    headers: dict[str, str] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep
    requests: int = 0
    waits: list[float] = field(default_factory=list)
    _last: float = -1e9

    def _throttle(self) -> None:
        gap = self.min_interval - (time.monotonic() - self._last)
        if gap > 0:
            self.sleep(gap)
        self._last = time.monotonic()

    def _wait(self, seconds: float) -> None:
        seconds = min(max(seconds, 0.0), self.max_wait)
        self.waits.append(seconds)
        self.sleep(seconds)

    def request(self, method: str, path: str, params: dict | None = None, body: object = None) -> bytes:
        url = self.base_url.rstrip("/") + path
        if params:
            url += "?" + urllib.parse.urlencode(params, safe=":,|*")
        data = json.dumps(body).encode() if body is not None else None
        headers = {"User-Agent": USER_AGENT, **self.headers}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(self.retries + 1):
            self._throttle()
            self.requests += 1
            try:
                with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method),
                                            timeout=self.timeout) as response:
                    return response.read()
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    raise NotFound(url) from None
                if exc.code in RETRY_STATUS and attempt < self.retries:
                    self._wait(retry_after(exc.headers.get("Retry-After")) or self.backoff * 2 ** attempt)
                    continue
                raise FetchError(f"{_short(url)}: HTTP {exc.code} {exc.reason} (after {attempt + 1} tries)") from None
            except (urllib.error.URLError, TimeoutError, socket.timeout, ConnectionError) as exc:
                if attempt < self.retries:
                    self._wait(self.backoff * 2 ** attempt)
                    continue
                reason = getattr(exc, "reason", exc)
                raise FetchError(f"{_short(url)}: {reason or 'timed out'} (after {attempt + 1} tries)") from None
        raise AssertionError("unreachable")

    def get_json(self, path: str, params: dict | None = None) -> object:
        return _json(self.request("GET", path, params), path)

    def post_json(self, path: str, params: dict | None = None, body: object = None) -> object:
        return _json(self.request("POST", path, params, body), path)


def _json(raw: bytes, what: str) -> object:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FetchError(f"malformed response from {what}: not JSON ({exc})") from None


def _short(url: str) -> str:
    """The URL for a message: keys removed, long ones cut."""
    url = re.sub(r"(api_key|key)=[^&]*", r"\1=…", url)
    return url if len(url) <= 120 else url[:117] + "..."
