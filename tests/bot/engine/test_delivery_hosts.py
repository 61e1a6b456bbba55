"""host_allowed: which result URLs Tolk may download (TOLK_ALLOWED_FILE_HOSTS)."""

from __future__ import annotations

import pytest

from bot.config import PROVIDER_RESULT_HOSTS
from bot.engine.delivery import host_allowed

HOSTS = ("files.example.com", "cdn.example.net:8443", "*.x.com", "127.0.0.1:8999")


@pytest.mark.parametrize(
    "url",
    [
        "https://files.example.com/a.jpg",
        "http://files.example.com/a.jpg",
        "https://FILES.Example.com/a.jpg",  # host names are case-insensitive
        "https://user@files.example.com/a.jpg",
        "https://files.example.com/a.jpg?sig=1&exp=2#frag",
    ],
)
def test_exact_host(url: str) -> None:
    assert host_allowed(url, HOSTS) is True


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.com/a.jpg",
        "https://files.example.com.evil.com/a.jpg",
        "https://evilfiles.example.com/a.jpg",
        "https://sub.files.example.com/a.jpg",  # an exact entry does not admit subdomains
        "https://example.com/a.jpg",
        "https://evil.com/https://files.example.com/a.jpg",
        "https://files.example.com@evil.com/a.jpg",
    ],
)
def test_other_hosts_are_refused(url: str) -> None:
    assert host_allowed(url, HOSTS) is False


def test_a_bare_host_entry_admits_only_the_schemes_default_port() -> None:
    """Before, it opened every port on that name: other services, cleartext on :443."""
    assert host_allowed("https://files.example.com:8080/a.jpg", HOSTS) is False
    assert host_allowed("http://files.example.com:443/a.jpg", HOSTS) is False
    assert host_allowed("https://files.example.com:443/a.jpg", HOSTS) is True


def test_host_and_port_entry_admits_only_that_port() -> None:
    assert host_allowed("https://cdn.example.net:8443/r.png", HOSTS) is True
    assert host_allowed("http://cdn.example.net:8443/r.png", HOSTS) is True
    assert host_allowed("https://cdn.example.net/r.png", HOSTS) is False
    assert host_allowed("https://cdn.example.net:443/r.png", HOSTS) is False
    assert host_allowed("https://cdn.example.net:8444/r.png", HOSTS) is False


def test_host_and_default_port_entry_matches_the_scheme_default() -> None:
    assert host_allowed("https://a.example.org/r.png", ["a.example.org:443"]) is True
    assert host_allowed("http://a.example.org/r.png", ["a.example.org:80"]) is True
    assert host_allowed("http://a.example.org/r.png", ["a.example.org:443"]) is False
    assert host_allowed("https://a.example.org/r.png", ["a.example.org:80"]) is False


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://a.x.com/r.png", True),
        ("https://deep.sub.x.com/r.png", True),
        ("https://A.X.COM/r.png", True),
        ("https://a.x.com:8443/r.png", False),  # a wildcard names its port too
        ("https://x.com/r.png", False),  # *.x.com is subdomains only
        ("https://evilx.com/r.png", False),
        ("https://a.x.com.evil.org/r.png", False),
        ("https://a.x.co/r.png", False),
    ],
)
def test_wildcard_subdomains(url: str, allowed: bool) -> None:
    assert host_allowed(url, HOSTS) is allowed


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example.com/a.jpg",
        "file://files.example.com/etc/passwd",
        "gopher://a.x.com/r",
        "ws://a.x.com/r",
        "files.example.com/a.jpg",
        "//files.example.com/a.jpg",
        "https:///a.jpg",
        "",
    ],
)
def test_other_schemes_and_non_urls_are_refused(url: str) -> None:
    assert host_allowed(url, HOSTS) is False


@pytest.mark.parametrize(
    ("url", "wildcard"),
    [
        ("http://127.0.0.1/r", "*.0.0.1"),
        ("http://127.0.0.1:8999/r", "*.0.1"),
        ("http://127.1.2.3/r", "*.3"),
        ("http://10.0.0.5/r", "*.0.5"),
        ("http://10.20.30.40/r", "*.40"),
        ("http://192.168.1.1/r", "*.1.1"),
        ("http://172.16.0.1/r", "*.0.1"),
        ("http://169.254.169.254/latest/meta-data/", "*.254"),
        ("http://0.0.0.0/r", "*.0"),
    ],
)
def test_wildcard_never_admits_private_ip_literals(url: str, wildcard: str) -> None:
    assert host_allowed(url, [wildcard]) is False


def test_wildcard_still_admits_public_ip_literals() -> None:
    # the private-address guard must not be "refuse every IP"
    assert host_allowed("http://8.8.8.8/r", ["*.8.8"]) is True


def test_explicit_loopback_entry_admits_that_port_only() -> None:
    assert host_allowed("http://127.0.0.1:8999/files/r.png", HOSTS) is True
    assert host_allowed("http://127.0.0.1:9000/files/r.png", HOSTS) is False
    assert host_allowed("http://127.0.0.1/files/r.png", HOSTS) is False
    assert host_allowed("http://localhost:8999/files/r.png", HOSTS) is False
    assert host_allowed("http://127.0.0.2:8999/files/r.png", HOSTS) is False


def test_explicit_private_host_entry_admits_it() -> None:
    assert host_allowed("http://10.0.0.5/r", ["10.0.0.5"]) is True
    assert host_allowed("http://169.254.169.254/r", ["10.0.0.5"]) is False


def test_nothing_allowed_refuses_everything() -> None:
    assert host_allowed("https://files.example.com/a.jpg", []) is False


def test_default_provider_hosts() -> None:
    assert host_allowed("http://i.tosoiot.com/a.jpg", PROVIDER_RESULT_HOSTS) is True
    assert host_allowed("https://img.alicdn.com/a.jpg", PROVIDER_RESULT_HOSTS) is True
    assert (
        host_allowed("https://bucket.oss-cn-hangzhou.aliyuncs.com/a.jpg", PROVIDER_RESULT_HOSTS)
        is True
    )
    assert host_allowed("https://files.rozetta-api.io/d.docx", PROVIDER_RESULT_HOSTS) is True
    assert host_allowed("https://tosoiot.com/a.jpg", PROVIDER_RESULT_HOSTS) is False
    assert host_allowed("http://169.254.169.254/latest", PROVIDER_RESULT_HOSTS) is False
    assert host_allowed("https://example.com/a.jpg", PROVIDER_RESULT_HOSTS) is False


@pytest.mark.parametrize(
    "url",
    ["https://a.x.com:99999/r.png", "https://a.x.com:abc/r.png", "http://[::1/r.png"],
)
def test_malformed_urls_are_refused_not_raised(url: str) -> None:
    assert host_allowed(url, HOSTS) is False
