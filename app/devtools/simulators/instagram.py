"""A local Instagram API with Instagram Login: media with paging and children, token refresh,
Instagram's error shapes, usage headers, and signed media links that expire.

API (`GET`, the token as `access_token`, as graph.instagram.com):
- `/{version}/{user}/media?fields=…&limit=…&after=…` → `{"data": […], "paging": {"cursors":
  {"before", "after"}, "next"?}}`, newest first; only the fields asked for are answered;
  `children` carries its items' fields only when asked as `children{id,media_type,…}`, else
  ids alone. `limit` above 100 → code 100.
- `/refresh_access_token?grant_type=ig_refresh_token&access_token=…` → `{"access_token",
  "token_type": "bearer", "expires_in"}`: a new token for one at least 24 h old and not expired
  (younger: code 10 "not yet eligible"); the old token keeps working until its own end.
- unknown, expired or revoked token → HTTP 400 `{"error": {"message", "type":
  "OAuthException", "code": 190, "error_subcode": 463 (expired) | 460 (revoked), "fbtrace_id"}}`.
- `rate_limit(n, code=4|17|32|613)`: the next n calls answer that code (HTTP 400), with the
  usage header at 100 % and `estimated_time_to_regain_access`.
- every API answer carries `X-App-Usage` and `X-Business-Use-Case-Usage` (`usage_percent`).

Media (`/cdn/{media_id}.jpg|.mp4?oe=<expiry>&oh=<signature>`): JPEG images drawn with Pillow
(one per media id, the same on every run) and a small MP4 per video; a link is good for
`media_ttl` seconds of the simulator's clock, then 403 "URL signature expired" (Instagram's
CDN). `fail_downloads(n)` answers the next n downloads 500.

Controls: `add_post`, `edit_caption`, `delete_post`, `expire_token`, `revoke_token`,
`advance(seconds)` (the simulator's clock), `usage_percent`. `demo_feed()` is the demo brand's
feed: 14 posts naming its SKUs, carousels and a video among them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import itertools
import json
import random
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from PIL import Image, ImageDraw
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from app.devtools.simulators.base import Simulator

Json = dict[str, Any]
TOKEN_SECONDS = 60 * 24 * 3600
REFRESH_AGE = 24 * 3600
MAX_LIMIT = 100
RATE_LIMIT_MESSAGES = {
    4: "Application request limit reached",
    17: "User request limit reached",
    32: "Page request limit reached",
    613: "Calls to this api have exceeded the rate limit.",
}


@dataclass
class SimChild:
    media_id: str
    media_type: str  # IMAGE or VIDEO


@dataclass
class SimPost:
    media_id: str
    media_type: str  # IMAGE, VIDEO or CAROUSEL_ALBUM
    caption: str | None
    timestamp: datetime
    shortcode: str
    children: list[SimChild] = field(default_factory=list)


@dataclass
class SimToken:
    issued_at: float
    expires_at: float
    revoked: bool = False


class InstagramSimulator(Simulator):
    """In-memory Instagram account; `app` serves the API and the CDN (see the module)."""

    def __init__(
        self,
        token: str = "IGAA-dev-token",
        *,
        user_id: str = "17841400000000001",
        username: str = "lenilesbrand",
        media_ttl: float = 3 * 24 * 3600,
        image_size: tuple[int, int] = (1080, 1350),
        clock: Callable[[], float] = time.time,
        token_age: float = 0.0,
        distinct_images: int = 0,
    ) -> None:
        super().__init__()
        self.user_id, self.username = user_id, username
        self.media_ttl, self.image_size = media_ttl, image_size
        self.distinct_images = distinct_images  # > 0: images cycle (a bench draws fewer)
        self._clock, self._offset = clock, 0.0
        self._secret = secrets.token_bytes(16)
        self.posts: list[SimPost] = []  # newest first
        self.tokens: dict[str, SimToken] = {}
        self.usage_percent = 5
        self.downloads = 0
        self._limit_codes: deque[int] = deque()
        self._failing_downloads = 0
        self._ids = itertools.count(17_900_000_000_000_000)
        now = self.now()
        self.tokens[token] = SimToken(now - token_age, now - token_age + TOKEN_SECONDS)
        self.app = Starlette(routes=self.routes())

    # --- controls -------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock (tokens age, media links expire)."""
        self._offset += seconds

    def add_post(
        self,
        caption: str | None,
        *,
        media_type: str = "IMAGE",
        slides: Sequence[str] = (),
        posted_at: datetime | None = None,
    ) -> SimPost:
        """Publish a post (newest first); a carousel's `slides` are its children's types."""
        when = posted_at or datetime.fromtimestamp(self.now(), UTC)
        post = SimPost(self._id(), media_type, caption, when, self._shortcode())
        post.children = [SimChild(self._id(), kind) for kind in slides]
        self.posts.insert(0, post)
        self.posts.sort(key=lambda p: p.timestamp, reverse=True)
        return post

    def edit_caption(self, media_id: str, caption: str) -> None:
        self._post(media_id).caption = caption

    def delete_post(self, media_id: str) -> None:
        self.posts.remove(self._post(media_id))

    def expire_token(self, token: str) -> None:
        self.tokens[token].expires_at = self.now() - 1

    def revoke_token(self, token: str) -> None:
        self.tokens[token].revoked = True

    def rate_limit(self, n: int = 1, retry_after: float = 1.0, code: int = 4) -> None:
        """Answer the next `n` API calls with a rate-limit error of `code`."""
        self._limit_codes.extend([code] * n)

    def fail_downloads(self, n: int = 1) -> None:
        self._failing_downloads = n

    # --- how Instagram answers ------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [
            self.route("/refresh_access_token", self._refresh, methods=["GET"]),
            self.route("/{version}/{user}/media", self._media, methods=["GET"]),
            Route("/cdn/{name}", self._cdn, methods=["GET"]),
        ]

    def too_many_requests(self, retry_after: float) -> Response:
        return self._limited(4)

    def server_error(self) -> Response:
        return _error(500, "An unexpected error has occurred.", "OAuthException", 2)

    async def admit(self, request: Request) -> Response | None:
        if self._limit_codes:
            return self._limited(self._limit_codes.popleft())
        token = self.tokens.get(request.query_params.get("access_token", ""))
        if token is None:
            return _error(400, "Invalid OAuth access token - Cannot parse access token", code=190)
        if token.revoked:
            return _error(400, "The user has not authorized application.", code=190, sub=460)
        if self.now() >= token.expires_at:
            return _error(
                400, "Error validating access token: Session has expired", code=190, sub=463
            )
        return None

    async def _media(self, request: Request) -> Response:
        if request.path_params["user"] not in {"me", self.user_id}:
            return _error(400, "Unsupported get request. Object does not exist", code=100)
        params = request.query_params
        limit = int(params.get("limit", "25")) if params.get("limit", "25").isdigit() else 0
        if not 1 <= limit <= MAX_LIMIT:
            return _error(400, f"(#100) The parameter limit must be 1..{MAX_LIMIT}", code=100)
        start = _decode_cursor(params.get("after"))
        page = self.posts[start : start + limit]
        wanted, child_fields = parse_fields(params.get("fields", "id"))
        data = [self._shape(post, wanted, child_fields, request) for post in page]
        paging: Json = {}
        if page:
            paging["cursors"] = {"before": _cursor(start), "after": _cursor(start + len(page))}
        if start + limit < len(self.posts):
            query = dict(params) | {"after": _cursor(start + len(page))}
            paging["next"] = f"{request.url.replace(query=urlencode(query))}"
        return self._json({"data": data, "paging": paging})

    async def _refresh(self, request: Request) -> Response:
        if request.query_params.get("grant_type") != "ig_refresh_token":
            return _error(400, "grant_type must be ig_refresh_token", code=100)
        old = self.tokens[request.query_params["access_token"]]
        if self.now() - old.issued_at < REFRESH_AGE:
            return _error(400, "The access token is not yet eligible for refresh", code=10)
        new = "IGAA" + secrets.token_urlsafe(24)
        self.tokens[new] = SimToken(self.now(), self.now() + TOKEN_SECONDS)
        body = {"access_token": new, "token_type": "bearer", "expires_in": TOKEN_SECONDS}
        return self._json(body)

    async def _cdn(self, request: Request) -> Response:
        name = request.path_params["name"]
        media_id, _, ext = name.partition(".")
        expiry = request.query_params.get("oe", "")
        if not hmac.compare_digest(request.query_params.get("oh", ""), self._sign(name, expiry)):
            return PlainTextResponse("Bad URL hash", 403)
        if int(expiry, 16) <= self.now():
            return PlainTextResponse("URL signature expired", 403)
        if self._failing_downloads:
            self._failing_downloads -= 1
            return PlainTextResponse("Internal Server Error", 500)
        self.downloads += 1
        if ext == "mp4":
            return Response(fake_mp4(media_id), media_type="video/mp4")
        seed = media_id
        if self.distinct_images:
            seed = str(int(media_id) % self.distinct_images)
        return Response(draw_image(seed, self.image_size), media_type="image/jpeg")

    # --- plumbing -------------------------------------------------------------------------

    def _shape(
        self, post: SimPost, wanted: set[str], child_fields: set[str], request: Request
    ) -> Json:
        full: Json = {
            "id": post.media_id,
            "media_type": post.media_type,
            "media_product_type": "REELS" if post.media_type == "VIDEO" else "FEED",
            "permalink": f"https://www.instagram.com/p/{post.shortcode}/",
            "shortcode": post.shortcode,
            "timestamp": post.timestamp.strftime("%Y-%m-%dT%H:%M:%S+0000"),
        }
        if post.caption is not None:
            full["caption"] = post.caption
        full |= self._urls(post.media_id, post.media_type, request)
        if post.children:
            items = [self._child(c, child_fields, request) for c in post.children]
            full["children"] = {"data": items}
        return {k: v for k, v in full.items() if k in wanted}

    def _child(self, child: SimChild, wanted: set[str], request: Request) -> Json:
        full: Json = {"id": child.media_id, "media_type": child.media_type}
        full |= self._urls(child.media_id, child.media_type, request)
        return {k: v for k, v in full.items() if k in (wanted or {"id"})}

    def _urls(self, media_id: str, media_type: str, request: Request) -> Json:
        if media_type == "CAROUSEL_ALBUM":  # the album's media_url is its first child's
            return {}
        if media_type == "VIDEO":
            return {
                "media_url": self._link(f"{media_id}.mp4", request),
                "thumbnail_url": self._link(f"{media_id}.jpg", request),
            }
        return {"media_url": self._link(f"{media_id}.jpg", request)}

    def _link(self, name: str, request: Request) -> str:
        expiry = format(int(self.now() + self.media_ttl), "x")
        query = urlencode({"oe": expiry, "oh": self._sign(name, expiry)})
        return f"{request.base_url}cdn/{name}?{query}"

    def _sign(self, name: str, expiry: str) -> str:
        return hmac.new(self._secret, f"{name}:{expiry}".encode(), hashlib.sha256).hexdigest()[:32]

    def _json(self, body: Json) -> Response:
        response = JSONResponse(body)
        response.headers.update(self._usage_headers(self.usage_percent, 0))
        return response

    def _limited(self, code: int) -> Response:
        response = _error(400, RATE_LIMIT_MESSAGES.get(code, "rate limited"), code=code)
        response.headers.update(self._usage_headers(100, 15))
        return response

    def _usage_headers(self, percent: int, regain_minutes: int) -> dict[str, str]:
        app = {"call_count": percent, "total_cputime": 1, "total_time": 1}
        business = {
            self.user_id: [
                {
                    "type": "instagram",
                    "call_count": percent,
                    "total_cputime": 1,
                    "total_time": 1,
                    "estimated_time_to_regain_access": regain_minutes,
                }
            ]
        }
        return {"X-App-Usage": json.dumps(app), "X-Business-Use-Case-Usage": json.dumps(business)}

    def _post(self, media_id: str) -> SimPost:
        return next(p for p in self.posts if p.media_id == media_id)

    def _id(self) -> str:
        return str(next(self._ids))

    def _shortcode(self) -> str:
        return base64.urlsafe_b64encode(secrets.token_bytes(8)).decode().rstrip("=")[:11]


def parse_fields(text: str) -> tuple[set[str], set[str]]:
    """`id,children{id,media_url}` → ({"id", "children"}, {"id", "media_url"})."""
    children: set[str] = set()
    top: set[str] = set()
    depth, name, inner = 0, "", ""
    for ch in text + ",":
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            top.add(name.strip())
            name = ""
        elif depth:
            inner += ch
        else:
            name += ch
    if "children" in top:
        children = {f.strip() for f in inner.split(",") if f.strip()}
    return top - {""}, children


def _error(
    status: int, message: str, type: str = "OAuthException", code: int = 1, sub: int | None = None
) -> Response:
    error: Json = {"message": message, "type": type, "code": code}
    if sub is not None:
        error["error_subcode"] = sub
    error["fbtrace_id"] = secrets.token_urlsafe(9)
    return JSONResponse({"error": error}, status_code=status)


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"idx:{index}".encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        return max(0, int(text.removeprefix("idx:")))
    except ValueError:
        return 0


@lru_cache(maxsize=256)
def draw_image(media_id: str, size: tuple[int, int] = (1080, 1350)) -> bytes:
    """A JPEG for a media id: a colour field with a few shapes, the same on every run."""
    rng = random.Random(media_id)
    colour = tuple(rng.randint(60, 220) for _ in range(3))
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    width, height = size
    for _ in range(6):
        x, y = rng.randint(0, width), rng.randint(0, height)
        r = rng.randint(width // 12, width // 4)
        fill = tuple(rng.randint(0, 255) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def fake_mp4(media_id: str) -> bytes:
    """A few kilobytes that start like an MP4 file (an `ftyp` box), the same for an id."""
    body = hashlib.sha256(media_id.encode()).digest() * 128
    return b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + body


# --- the demo brand's feed ----------------------------------------------------------------------

DEMO_CAPTIONS = (
    "Осенний лукбук: {a} в паре с {b}. Артикулы {a_art} и {b_art}. #lenilesautumn",
    "Лён на каждый день — {a} ({a_sku}). #linen #{a_tag}",
    "Новая капсула: {a}, {b} и {c}. {a_art} · {b_art} · {c_art}",
    "За кадром съёмки. {a} {a_art} уже на сайте.",
    "Слои и фактуры: {a} {a_art}, {b} {b_art}. #lenilesknit",
    "Смотрите в движении: {a} ({a_art}) ✨",
)


def demo_feed(
    sim: InstagramSimulator, articles: Sequence[tuple[str, str, str]], *, now: datetime
) -> None:
    """The demo brand's feed: 14 posts a day apart naming its articles and SKUs; every third a
    carousel of three, the fifth a video. `articles`: (article, a full SKU, product name)."""
    for n in range(14):
        picks = [articles[(n * 3 + k) % len(articles)] for k in range(3)]
        caption = DEMO_CAPTIONS[n % len(DEMO_CAPTIONS)].format(
            **{
                f"{key}{suffix}": value
                for key, (art, sku, name) in zip("abc", picks, strict=True)
                for suffix, value in (("", name), ("_art", art), ("_sku", sku))
            },
            a_tag=picks[0][0].replace("-", "").lower(),
        )
        posted = now - timedelta(days=14 - n, hours=n % 5)
        if n == 4:
            sim.add_post(caption, media_type="VIDEO", posted_at=posted)
        elif n % 3 == 0:
            kinds = ["IMAGE", "IMAGE", "VIDEO" if n == 9 else "IMAGE"]
            sim.add_post(caption, media_type="CAROUSEL_ALBUM", slides=kinds, posted_at=posted)
        else:
            sim.add_post(caption, posted_at=posted)
