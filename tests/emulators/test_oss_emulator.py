"""OssEmulator over real loopback HTTP: it serves what the official presigner (V4 and V1)
and ``presign_get`` sign, and refuses tampered, expired and unknown requests in OSS's XML."""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import AsyncIterator

import aiohttp
import alibabacloud_oss_v2 as oss
import pytest
import yarl

from emulators.oss import OssEmulator
from providers.alibaba.signing import Credentials
from providers.oss.presign import presign_get

KEY, SECRET = "LTAI5tTolkEmulator", "emulator-secret"
BUCKET = "tolk-media"


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def em(clock: Clock) -> AsyncIterator[OssEmulator]:
    async with OssEmulator({KEY: SECRET}, clock=clock) as emulator:
        emulator.put(BUCKET, "out/cat-0.png", b"\x89PNG fake", "image/png")
        emulator.put(BUCKET, "dir/a b+c~é?&=.srt", b"1\n00:00:01,000 --> 00:00:02,000\nhi\n")
        yield emulator


def sdk_url(
    em: OssEmulator,
    key: str,
    *,
    secret: str = SECRET,
    version: str = "v4",
    region: str = "cn-hangzhou",
    seconds: int = 600,
) -> str:
    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(KEY, secret)
    cfg.region = region
    cfg.endpoint = em.endpoint
    cfg.signature_version = version
    result = oss.Client(cfg).presign(
        oss.GetObjectRequest(bucket=BUCKET, key=key), expires=datetime.timedelta(seconds=seconds)
    )
    return result.url


async def fetch(session: aiohttp.ClientSession, url: str) -> tuple[int, bytes, str]:
    async with session.get(yarl.URL(url, encoded=True)) as resp:
        return resp.status, await resp.read(), resp.content_type


def error_code(body: bytes) -> str:
    match = re.search(rb"<Code>([^<]*)</Code>", body)
    assert match, body
    return match[1].decode()


@pytest.mark.parametrize("key", ["out/cat-0.png", "dir/a b+c~é?&=.srt"])
async def test_serves_the_official_v4_presigned_url(em, session, key) -> None:
    url = sdk_url(em, key)
    assert url.startswith(f"{em.endpoint}/{BUCKET}/")  # path-style on an IP endpoint
    status, body, _ = await fetch(session, url)
    assert status == 200
    assert body == em.get(BUCKET, key)
    assert em.requests[-1].key == key and em.requests[-1].code is None


async def test_serves_the_official_v1_presigned_url(em, session) -> None:
    status, body, content_type = await fetch(session, sdk_url(em, "out/cat-0.png", version="v1"))
    assert (status, body, content_type) == (200, b"\x89PNG fake", "image/png")


async def test_serves_presign_get(em, session) -> None:
    url = presign_get(
        Credentials(KEY, SECRET),
        BUCKET,
        "dir/a b+c~é?&=.srt",
        endpoint=em.endpoint,
        expires=60,
        now=time.time(),
    )
    status, body, _ = await fetch(session, url)
    assert status == 200 and body.startswith(b"1\n")


async def test_head_is_signed_for_get_only(em, session) -> None:
    async with session.head(yarl.URL(sdk_url(em, "out/cat-0.png"), encoded=True)) as resp:
        assert resp.status == 403  # the method is part of the signature


@pytest.mark.parametrize(
    "tamper",
    [
        lambda u: u.replace("/out/cat-0.png", "/out/cat-1.png"),
        lambda u: re.sub(r"x-oss-expires=\d+", "x-oss-expires=6000", u),
        lambda u: re.sub(
            r"x-oss-signature=([0-9a-f])",
            lambda m: "x-oss-signature=" + ("1" if m[1] != "1" else "2"),
            u,
        ),
        lambda u: u + "&response-content-type=text%2Fhtml",
    ],
    ids=["key", "expires", "signature", "extra-param"],
)
async def test_tampered_urls_are_refused(em, session, tamper) -> None:
    em.put(BUCKET, "out/cat-1.png", b"other")
    status, body, content_type = await fetch(session, tamper(sdk_url(em, "out/cat-0.png")))
    assert (status, content_type) == (403, "application/xml")
    assert error_code(body) == "SignatureDoesNotMatch"
    assert b"<RequestId>" in body and SECRET.encode() not in body


async def test_wrong_secret_and_unknown_key(em, session) -> None:
    status, body, _ = await fetch(session, sdk_url(em, "out/cat-0.png", secret="nope"))
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    em.keys.clear()
    status, body, _ = await fetch(session, sdk_url(em, "out/cat-0.png"))
    assert (status, error_code(body)) == (403, "InvalidAccessKeyId")


@pytest.mark.parametrize("version", ["v4", "v1"])
async def test_expired_urls_are_refused(em, session, clock, version) -> None:
    url = sdk_url(em, "out/cat-0.png", version=version, seconds=60)
    assert (await fetch(session, url))[0] == 200
    clock.offset = 61
    status, body, _ = await fetch(session, url)
    assert (status, error_code(body)) == (403, "AccessDenied")
    assert b"Request has expired." in body


async def test_missing_objects_buckets_and_signatures(em, session) -> None:
    status, body, _ = await fetch(session, sdk_url(em, "out/none.png"))
    assert (status, error_code(body)) == (404, "NoSuchKey")
    assert b"<Key>out/none.png</Key>" in body
    status, body, _ = await fetch(session, f"{em.endpoint}/other-bucket/k")
    assert (status, error_code(body)) == (404, "NoSuchBucket")
    status, body, _ = await fetch(session, em.url(BUCKET, "out/cat-0.png"))
    assert (status, error_code(body)) == (403, "AccessDenied")


async def test_another_region_is_refused(em, session) -> None:
    status, body, _ = await fetch(session, sdk_url(em, "out/cat-0.png", region="cn-beijing"))
    assert (status, error_code(body)) == (400, "InvalidArgument")
