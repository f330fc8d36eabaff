"""The S3 store against a real S3-compatible server (moto's server mode on 127.0.0.1)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from app.devtools.simulators.instagram import InstagramSimulator
from app.integrations.instagram.client import InstagramClient
from app.models.instashop import LookSlide
from app.redis_setup import free_port
from app.services.instashop.account import InstashopConfig
from app.services.instashop.store import IMMUTABLE, S3Store, StoreError
from app.services.instashop.sync import sync_feed
from tests.conftest import Clock

BUCKET = "brand-media"
KEYS = {"access_key_id": "testing", "secret_access_key": "testing"}
PUBLIC_READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        }
    ],
}


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def store(s3_url: str) -> S3Store:
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=BUCKET)
    # as a brand publishes its media bucket (or puts a CDN in front): anyone may read
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(PUBLIC_READ))
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    return S3Store(BUCKET, prefix="instashop/", endpoint_url=s3_url, **KEYS)


async def test_a_file_is_stored_with_its_type_and_a_year_of_cache(
    store: S3Store, s3_url: str
) -> None:
    await store.put("looks/ab/abc/card.webp", b"RIFF....WEBP", "image/webp")

    async with httpx.AsyncClient() as web:
        answer = await web.get(store.url("looks/ab/abc/card.webp"))

    assert store.url("looks/ab/abc/card.webp") == (
        f"{s3_url}/{BUCKET}/instashop/looks/ab/abc/card.webp"
    )
    assert answer.status_code == 200 and answer.content == b"RIFF....WEBP"
    assert answer.headers["content-type"] == "image/webp"
    assert answer.headers["cache-control"] == IMMUTABLE
    assert await store.exists("looks/ab/abc/card.webp")
    assert not await store.exists("looks/ab/abc/full.webp")


async def test_a_key_that_leaves_its_folder_is_refused(store: S3Store) -> None:
    with pytest.raises(ValueError):
        await store.put("looks/../../etc/passwd", b"x", "text/plain")


async def test_a_bucket_that_does_not_exist_is_a_store_error(s3_url: str) -> None:
    missing = S3Store("no-such-bucket", endpoint_url=s3_url, **KEYS)

    with pytest.raises(StoreError, match="put_object"):
        await missing.put("looks/x/card.jpg", b"x", "image/jpeg")


async def test_a_sync_rehosts_a_carousel_into_the_bucket(
    db: str,
    store: S3Store,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    ig_config: InstashopConfig,
    clock: Clock,
) -> None:
    ig_sim.add_post("LL-0001", media_type="CAROUSEL_ALBUM", slides=["IMAGE", "VIDEO"])

    report = await sync_feed(client=instagram, store=store, config=ig_config, now=clock.now)

    assert (report.slides_stored, report.slides_failed) == (2, 0)
    for slide in await LookSlide.all():
        for key in slide.files.values():
            assert await store.exists(key)
