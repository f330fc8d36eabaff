"""Where re-hosted Instagram files live: a directory under DATA_DIR served by the app, or an
S3-compatible bucket (boto3, in a worker thread).

Keys are content-addressed (`looks/<sha256 of the source>/<rendition>.<ext>`), so a file never
changes once written: both stores answer it with a year-long, immutable cache lifetime.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

from app.settings import Settings

IMMUTABLE = "public, max-age=31536000, immutable"
_SAFE_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$")


class StoreError(Exception):
    """A file could not be written or checked; the slide is tried again at the next sync."""


class MediaStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def exists(self, key: str) -> bool: ...

    def url(self, key: str) -> str: ...


def check_key(key: str) -> str:
    """A key of lower-case path segments, none of them `.` or `..`."""
    if not _SAFE_KEY.match(key) or ".." in key.split("/"):
        raise ValueError(f"not a media key: {key!r}")
    return key


class FileStore:
    """Files under `root`, published at `base_url` (the app serves `/media/`)."""

    def __init__(self, root: Path, base_url: str = "/media/") -> None:
        self.root = root
        self._base = base_url if base_url.endswith("/") else base_url + "/"

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write the file whole or not at all (a reader never sees half of it)."""
        try:
            await asyncio.to_thread(self._write, self.root / check_key(key), data)
        except OSError as exc:
            raise StoreError(f"cannot write {key}: {exc}") from exc

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread((self.root / check_key(key)).is_file)

    def url(self, key: str) -> str:
        return self._base + key

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class S3Store:
    """Objects in an S3-compatible bucket, under `prefix`, published at `base_url`.

    boto3 is synchronous: each call runs in a worker thread (its clients are thread-safe), which
    the few uploads of a sync can afford; requests are never on a shopper's path."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        base_url: str | None = None,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str = "",
        secret_access_key: str = "",
    ) -> None:
        # imported here: the app and the CLI start without loading boto3 unless S3 is used
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        self._failures: tuple[type[Exception], ...] = (BotoCoreError, ClientError)
        self.bucket, self.prefix = bucket, prefix
        credentials: dict[str, Any] = {}
        if access_key_id:
            credentials = {
                "aws_access_key_id": access_key_id,
                "aws_secret_access_key": secret_access_key,
            }
        self._s3 = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
            **credentials,
        )
        self._base = base_url or _default_s3_base(bucket, endpoint_url, region)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self._call(
            "put_object",
            Bucket=self.bucket,
            Key=self.prefix + check_key(key),
            Body=data,
            ContentType=content_type,
            CacheControl=IMMUTABLE,
        )

    async def exists(self, key: str) -> bool:
        try:
            await self._call("head_object", Bucket=self.bucket, Key=self.prefix + check_key(key))
        except StoreError as exc:
            if _status(exc.__cause__) == 404:
                return False
            raise
        return True

    def url(self, key: str) -> str:
        return self._base + self.prefix + key

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(getattr(self._s3, method), **kwargs)
        except self._failures as exc:
            raise StoreError(f"S3 {method} {kwargs.get('Key')}: {exc}") from exc


def _status(error: BaseException | None) -> int:
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return 0
    status: int = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status


def media_root(settings: Settings) -> Path:
    return settings.data_dir / "media"


def public_url(settings: Settings, key: str) -> str:
    """Where shoppers fetch a stored file (no client needed: the schema calls it per image)."""
    if settings.media_store == "s3":
        return _s3_base(settings) + settings.s3_prefix + key
    base = settings.media_url
    return (base if base.endswith("/") else base + "/") + key


def _s3_base(settings: Settings) -> str:
    if settings.media_url != "/media/":
        return settings.media_url if settings.media_url.endswith("/") else settings.media_url + "/"
    return _default_s3_base(settings.s3_bucket, settings.s3_endpoint_url, settings.s3_region)


def _default_s3_base(bucket: str, endpoint_url: str | None, region: str) -> str:
    if endpoint_url:
        return f"{endpoint_url.rstrip('/')}/{bucket}/"
    return f"https://{bucket}.s3.{region}.amazonaws.com/"


def build_store(settings: Settings) -> MediaStore:
    """The store MEDIA_STORE names."""
    if settings.media_store == "s3":
        return S3Store(
            settings.s3_bucket,
            prefix=settings.s3_prefix,
            base_url=_s3_base(settings),
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
    return FileStore(media_root(settings), settings.media_url)
