"""HTTP client of the Instagram API with Instagram Login: the account's media, page by page,
the long-lived token's refresh, and the download of a media file before its link expires.

Answers (`mapping` has the bodies):
- 2xx: the page, the new token, the file's bytes.
- an error object with code 190 (token expired or revoked): `TokenExpiredError`; a person must
  log in again, retrying cannot help.
- codes 4 / 17 / 32 / 613 (rate limits), HTTP 429: `RateLimitedError`, a `RetryableError` whose
  `retry_after` is Instagram's `estimated_time_to_regain_access`, else `RATE_LIMIT_PAUSE`.
- 5xx, timeouts, connection failures: `RetryableError`.
- any other error: `InstagramApiError` (a `RejectedError`, with Instagram's code).
- a media link that answers 403/404/410 (its signature expired): `MediaLinkExpired`; the next
  sync brings a fresh link.

Every API answer's usage headers are kept in `usage`; the sync pauses when it runs high.
"""

from __future__ import annotations

from datetime import timedelta
from types import TracebackType

import httpx

from app.integrations.errors import RejectedError, RetryableError
from app.integrations.http import describe, retryable_answer, send
from app.integrations.instagram.mapping import (
    EXPIRED_TOKEN,
    RATE_LIMITS,
    MediaPage,
    RefreshedToken,
    UnreadableAnswer,
    Usage,
    media_query,
    parse_error,
    parse_media_page,
    parse_refreshed_token,
    parse_usage,
)

RATE_LIMIT_PAUSE = timedelta(minutes=15)
MAX_MEDIA_BYTES = 200 * 1024 * 1024  # a one-minute 1080p reel is about 50 MB
EXPIRED_LINK_STATUSES = frozenset({403, 404, 410})


class InstagramApiError(RejectedError):
    """Instagram refused the call; `code` and `subcode` are its own."""

    def __init__(self, message: str, status: int, body: str, code: int | None) -> None:
        super().__init__(message, status, body)
        self.code = code


class TokenExpiredError(InstagramApiError):
    """Code 190: the access token expired or was revoked."""


class RateLimitedError(RetryableError):
    """Codes 4, 17, 32, 613 or HTTP 429: call again after `retry_after` seconds."""


class MediaLinkExpired(RejectedError):
    """A media file's signed link no longer works."""


class InstagramClient:
    """Read the account's media and keep its token alive (see the module docstring)."""

    def __init__(
        self,
        base_url: str = "https://graph.instagram.com",
        version: str = "v23.0",
        *,
        timeout: float = 10.0,
        proxy: str | None = None,
    ) -> None:
        self._version = version.strip("/")
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            timeout=timeout,
            proxy=proxy,
            headers={"Accept": "application/json"},
        )
        # Media come from Instagram's CDN, which redirects; a longer read for videos.
        self._files = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, read=max(timeout, 60.0)),
            proxy=proxy,
            follow_redirects=True,
        )
        self.usage = Usage(percent=0, regain_after=timedelta(0))

    async def media_page(
        self, token: str, user_id: str = "me", *, after: str | None = None, limit: int = 25
    ) -> MediaPage:
        """One page of the account's media, newest first, children's fields included."""
        params = media_query(limit, after) | {"access_token": token}
        response = await self._get(f"{self._version}/{user_id}/media", params)
        try:
            return parse_media_page(response.json())
        except ValueError as exc:  # UnreadableAnswer, or a body that is not JSON
            raise RejectedError(f"unreadable media page: {exc}", 200, response.text) from exc

    async def refresh_token(self, token: str) -> RefreshedToken:
        """A new long-lived token for one at least a day old and not expired."""
        params = {"grant_type": "ig_refresh_token", "access_token": token}
        response = await self._get("refresh_access_token", params)
        try:
            return parse_refreshed_token(response.json())
        except (UnreadableAnswer, ValueError) as exc:
            raise RejectedError(f"unreadable token answer: {exc}", 200, "") from exc

    async def download(self, url: str) -> bytes:
        """The bytes of a media file (a signed CDN link, valid for a few days)."""
        request = self._files.build_request("GET", url)
        response = await send(self._files, request)
        if response.status_code in EXPIRED_LINK_STATUSES:
            raise MediaLinkExpired(describe(response), response.status_code, "")
        if (retry := retryable_answer(response)) is not None:
            raise retry
        if not response.is_success:
            raise RejectedError(describe(response), response.status_code, "")
        if len(response.content) > MAX_MEDIA_BYTES:
            raise RejectedError(f"media file over {MAX_MEDIA_BYTES} bytes", 200, "")
        return response.content

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._files.aclose()

    async def __aenter__(self) -> InstagramClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _get(self, path: str, params: dict[str, str]) -> httpx.Response:
        request = self._http.build_request("GET", path, params=params)
        try:
            response = await send(self._http, request)
        except RetryableError as exc:  # its message names the URL, and so the token
            raise RetryableError(f"{type(exc.__cause__).__name__}: GET /{path}") from exc.__cause__
        self.usage = parse_usage(response.headers)
        if response.is_success:
            return response
        raise self._failure(response)

    def _failure(self, response: httpx.Response) -> Exception:
        try:
            error = parse_error(response.json())
        except ValueError:
            error = None
        # never quote the request URL: it carries the access token
        text = f"HTTP {response.status_code}: {error.message if error else response.text[:200]}"
        code = error.code if error else None
        if response.status_code == 429 or code in RATE_LIMITS:
            wait = self.usage.regain_after or RATE_LIMIT_PAUSE
            return RateLimitedError(f"rate limited ({code}): {text}", wait.total_seconds())
        if code == EXPIRED_TOKEN:
            return TokenExpiredError(text, response.status_code, response.text, code)
        if (retry := retryable_answer(response)) is not None:
            return RetryableError(text, retry.retry_after)
        return InstagramApiError(text, response.status_code, response.text, code)
