"""OSS V4 presigning: the worked example of alibaba-mts.md §7.2, equality with the official
``alibabacloud-oss-v2`` presigner (time pinned), and the endpoint rules."""

from __future__ import annotations

import datetime
import hashlib
import types

import alibabacloud_oss_v2 as oss
import pytest
from alibabacloud_oss_v2.signer import v4 as sdk_v4

from providers.alibaba.signing import Credentials
from providers.oss.presign import (
    DEFAULT_ENDPOINT,
    OssObject,
    canonical_request,
    object_url,
    oss_endpoint,
    parse_oss_url,
    presign_get,
    region_of,
    split_oss_url,
)

CREDS = Credentials("testid", "testsecret")
PINNED = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
NOW = PINNED.timestamp()
EXAMPLE_URL = (
    "https://example-bucket.oss-cn-hangzhou.aliyuncs.com/iproduction/test-result.jpg"
    "?x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-date=20240101T000000Z&x-oss-expires=3600"
    "&x-oss-credential=testid%2F20240101%2Fcn-hangzhou%2Foss%2Faliyun_v4_request"
    "&x-oss-signature=e3b388da8e184f0ccc87dea7933e6f284eeb784868aa994e0cc9679c943d097d"
)


def test_worked_example_7_2() -> None:
    url = presign_get(
        CREDS,
        "example-bucket",
        "iproduction/test-result.jpg",
        endpoint="oss-cn-hangzhou.aliyuncs.com",
        region="cn-hangzhou",
        expires=3600,
        now=NOW,
    )
    assert url == EXAMPLE_URL


def test_worked_example_canonical_request_hash() -> None:
    query = {
        "x-oss-signature-version": "OSS4-HMAC-SHA256",
        "x-oss-date": "20240101T000000Z",
        "x-oss-expires": "3600",
        "x-oss-credential": "testid/20240101/cn-hangzhou/oss/aliyun_v4_request",
    }
    canonical = canonical_request("example-bucket", "iproduction/test-result.jpg", query)
    assert canonical.splitlines()[1] == "/example-bucket/iproduction/test-result.jpg"
    assert hashlib.sha256(canonical.encode()).hexdigest() == (
        "9d64c8d0b85dd681e55beb12c5411c27293e67dbf5098db517ebd022fbea13dd"
    )


# -- the official presigner, time pinned ----------------------------------------------------


class _Frozen(datetime.datetime):
    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> datetime.datetime:  # type: ignore[override]
        return PINNED


@pytest.fixture
def pinned_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's V4 signer reads ``datetime.datetime.now``; pin it to 2024-01-01T00:00:00Z."""
    shim = types.SimpleNamespace(
        datetime=_Frozen, timezone=datetime.timezone, timedelta=datetime.timedelta
    )
    monkeypatch.setattr(sdk_v4, "datetime", shim)


def sdk_presign(
    bucket: str,
    key: str,
    *,
    endpoint: str | None,
    region: str,
    expires: int,
    token: str | None = None,
) -> str:
    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(
        CREDS.access_key_id, CREDS.access_key_secret, token
    )
    cfg.region = region
    if endpoint is not None:
        cfg.endpoint = endpoint
    result = oss.Client(cfg).presign(
        oss.GetObjectRequest(bucket=bucket, key=key),
        expiration=PINNED + datetime.timedelta(seconds=expires),
    )
    return result.url


@pytest.mark.usefixtures("pinned_sdk")
def test_sdk_reproduces_the_worked_example() -> None:
    url = sdk_presign(
        "example-bucket",
        "iproduction/test-result.jpg",
        endpoint=None,
        region="cn-hangzhou",
        expires=3600,
    )
    assert url == EXAMPLE_URL


@pytest.mark.usefixtures("pinned_sdk")
@pytest.mark.parametrize(
    ("endpoint", "region", "key", "expires"),
    [
        (None, "cn-hangzhou", "iproduction/test-result.jpg", 3600),
        ("oss-cn-shanghai.aliyuncs.com", "cn-shanghai", "a/b/c.srt", 60),
        ("https://oss-ap-southeast-1.aliyuncs.com", "ap-southeast-1", "x.png", 604800),
        ("http://127.0.0.1:9000", "cn-hangzhou", "iproduction/test-result.jpg", 900),
        ("http://127.0.0.1:9000", "cn-hangzhou", "dir/a b+c~é?&=#%.jpg", 3600),
        ("oss-cn-hangzhou.aliyuncs.com", "cn-hangzhou", "中文/猫 (1).png", 1),
    ],
)
def test_equals_the_official_presigner(
    endpoint: str | None, region: str, key: str, expires: int
) -> None:
    ours = presign_get(
        CREDS,
        "example-bucket",
        key,
        endpoint=endpoint or "oss-cn-hangzhou.aliyuncs.com",
        region=region,
        expires=expires,
        now=NOW,
    )
    theirs = sdk_presign("example-bucket", key, endpoint=endpoint, region=region, expires=expires)
    assert ours == theirs


@pytest.mark.usefixtures("pinned_sdk")
def test_equals_the_official_presigner_with_an_sts_token() -> None:
    sts = Credentials("STS.testid", "testsecret", "tok/en+with=chars")
    ours = presign_get(sts, "b-1", "k.jpg", endpoint=DEFAULT_ENDPOINT, expires=3600, now=NOW)
    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(
        sts.access_key_id, sts.access_key_secret, sts.security_token
    )
    cfg.region = "cn-hangzhou"
    theirs = oss.Client(cfg).presign(
        oss.GetObjectRequest(bucket="b-1", key="k.jpg"),
        expiration=PINNED + datetime.timedelta(seconds=3600),
    )
    assert ours == theirs.url
    assert "x-oss-security-token=tok%2Fen%2Bwith%3Dchars" in ours


def test_region_defaults_to_the_endpoints() -> None:
    url = presign_get(CREDS, "b-1", "k", endpoint="oss-cn-shanghai.aliyuncs.com", now=NOW)
    assert "%2Fcn-shanghai%2Foss%2F" in url
    assert url.startswith("https://b-1.oss-cn-shanghai.aliyuncs.com/k?")


@pytest.mark.parametrize("expires", [0, -5, 604801])
def test_expiry_bounds(expires: int) -> None:
    with pytest.raises(ValueError, match="expires"):
        presign_get(CREDS, "b-1", "k", expires=expires, now=NOW)


def test_the_secret_never_appears_in_the_url() -> None:
    assert "testsecret" not in presign_get(CREDS, "b-1", "k", now=NOW)


# -- endpoints and oss:// URLs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "url", "expected"),
    [
        ("oss-cn-beijing.aliyuncs.com", "oss://b-1.oss-cn-shanghai.aliyuncs.com/k", None),
        ("http://127.0.0.1:9000/", "oss://b-1/k", "http://127.0.0.1:9000"),
        (None, "oss://b-1.oss-cn-shanghai.aliyuncs.com/k", "oss-cn-shanghai.aliyuncs.com"),
        ("", "oss://b-1.OSS-CN-SHENZHEN.aliyuncs.com/k", "oss-cn-shenzhen.aliyuncs.com"),
        (None, "oss://b-1/k", DEFAULT_ENDPOINT),
        (None, None, DEFAULT_ENDPOINT),
        (None, "not a url", DEFAULT_ENDPOINT),
    ],
)
def test_oss_endpoint_rule(configured: str | None, url: str | None, expected: str | None) -> None:
    assert oss_endpoint(configured, url) == (expected or configured)


@pytest.mark.parametrize(
    ("endpoint", "region"),
    [
        ("oss-cn-shanghai.aliyuncs.com", "cn-shanghai"),
        ("https://oss-eu-central-1.aliyuncs.com", "eu-central-1"),
        ("oss-cn-hangzhou-internal.aliyuncs.com", "cn-hangzhou"),
        ("http://127.0.0.1:9000", "cn-hangzhou"),
    ],
)
def test_region_of(endpoint: str, region: str) -> None:
    assert region_of(endpoint) == region


def test_addressing_style() -> None:
    assert object_url("http://127.0.0.1:9000", "b-1", "a b.png") == (
        "http://127.0.0.1:9000/b-1/a%20b.png"
    )
    assert object_url("http://localhost:9000", "b-1", "k") == "http://localhost:9000/b-1/k"
    assert object_url("http://[::1]:9000", "b-1", "k") == "http://[::1]:9000/b-1/k"
    assert object_url("oss-cn-hangzhou.aliyuncs.com", "b-1", "k") == (
        "https://b-1.oss-cn-hangzhou.aliyuncs.com/k"
    )


def test_oss_urls() -> None:
    assert parse_oss_url("oss://b-1/a/b.png") == OssObject("b-1", "a/b.png")
    assert split_oss_url("oss://b-1.oss-cn-shanghai.aliyuncs.com/a+b.jpg") == (
        "b-1",
        "oss-cn-shanghai.aliyuncs.com",
        "a+b.jpg",
    )
    assert parse_oss_url("oss://example-****.oss-cn-hangzhou.aliyuncs.com/x.mp4").bucket == (
        "example-****"
    )
    for bad in ("https://b-1/k", "oss:///k", "oss://b-1./k"):
        with pytest.raises(ValueError):
            parse_oss_url(bad)
    with pytest.raises(ValueError, match="bucket name"):
        parse_oss_url("oss://Bad_Bucket/k", strict=True)
