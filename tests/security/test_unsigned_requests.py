"""Issue 16, findings 3 and 5: what a stranger's unsigned requests to ``/slack/events`` can
do. Nothing they choose is counted (metric labels come from a fixed list; unsigned
requests are one ``kind="rejected"`` series), nothing they send is parsed before the
signature is checked on the raw bytes (every malformed body, charset or duplicated
header is a 401, never a 500), and ``on_error`` never acts on a body Slack did not sign.

Against a running Tolk on loopback, with raw HTTP where a polite client would not send it.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from urllib.parse import urlencode

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.core.metrics import ACK_KINDS
from emulators.signed import command_body, event_body, interaction_body, signature
from tests.abuse.conftest import all_tasks, assert_nothing_happened
from tests.conftest import SIGNING_SECRET, Tolk
from tests.security.raw_http import LogTap, exchange, flood, raw_request, rss_mb

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
KINDS = set(ACK_KINDS)


def fresh() -> str:
    return str(int(time.time()))


def guessed() -> list[tuple[str, str]]:
    """Headers that pass any shape check: a fresh timestamp, a well-formed wrong signature."""
    return [
        ("X-Slack-Request-Timestamp", fresh()),
        ("X-Slack-Signature", "v0=" + secrets.token_hex(32)),
    ]


def signed_headers(body: bytes | str, secret: str = SIGNING_SECRET) -> list[tuple[str, str]]:
    text = body.decode() if isinstance(body, bytes) else body
    ts = fresh()
    return [("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", signature(secret, ts, text))]


async def metrics_text(tolk: Tolk) -> str:
    async with tolk.session.get(f"http://127.0.0.1:{tolk.port}/metrics") as resp:
        assert resp.status == 200
        return await resp.text()


def ack_counts(text: str) -> dict[str, float]:
    counts = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "tolk_slack_ack_seconds_count":
                counts[sample.labels["kind"]] = sample.value
    return counts


# --- finding 3: labels ----------------------------------------------------------------------------


async def test_unsigned_requests_add_no_metric_series(tolk, slack, xiangji):
    """Before: each unsigned request's ``type`` became a ``kind`` label (a new histogram
    series of 17 lines each); 23,000 of them made /metrics 111 MB."""
    before = await metrics_text(tolk)
    requests = []
    for i in range(300):
        marker = f"attacker-{i}-{secrets.token_hex(4)}"
        body = [
            json.dumps({"type": marker, "event": {"type": marker}}).encode(),
            urlencode({"command": f"/{marker}", "text": "x"}).encode(),
            interaction_body({"type": marker, "callback_id": marker}).encode(),
        ][i % 3]
        content_type = JSON if i % 3 == 0 else FORM
        headers = [("Content-Type", content_type), *guessed()] if i % 2 else []
        requests.append(raw_request("/slack/events", body, [*headers]))
    statuses = await flood(tolk.port, requests, connections=4, depth=25)
    assert statuses == {401: 300}

    # a genuinely signed request with an unknown type is counted, as "other"
    odd = json.dumps({"type": "attacker-signed-type", "token": "t"})
    status, _ = await exchange(
        tolk.port,
        raw_request("/slack/events", odd.encode(), [("Content-Type", JSON), *signed_headers(odd)]),
    )
    assert status in (200, 404)

    after = await metrics_text(tolk)
    assert "attacker" not in after
    counts = ack_counts(after)
    assert set(counts) <= KINDS, counts
    assert counts.get("rejected") == 300
    assert counts.get("other") == 1
    assert len(after.splitlines()) - len(before.splitlines()) <= 2 * 20  # two fixed series
    await assert_nothing_happened(tolk, slack, xiangji)


async def test_signed_requests_are_counted_by_a_fixed_kind(tolk, slack):
    await tolk.command("/translate", "zh>en 你好")
    message = slack.post_user_message("C0GENERAL", "U0BOB", "你好")
    event = event_body(
        {
            "type": "reaction_added",
            "user": "U0ALICE",
            "reaction": "flag-gb",
            "item": {"type": "message", "channel": "C0GENERAL", "ts": message["ts"]},
        }
    )
    status, _ = await exchange(
        tolk.port,
        raw_request(
            "/slack/events", event.encode(), [("Content-Type", JSON), *signed_headers(event)]
        ),
    )
    assert status == 200
    counts = ack_counts(await metrics_text(tolk))
    assert counts["command"] == 1 and counts["event_callback"] == 1
    assert set(counts) <= KINDS


# --- finding 5: nothing parsed before the signature ----------------------------------------------

DEEP = b"[" * 200_000 + b"]" * 200_000
MALFORMED = {
    "bad json": (b'{"type": "event_callback", "event": ', JSON),
    "not utf-8": (b'{"type": "\xff\xfe\xfa"}', JSON),
    "not utf-8 form": (b"command=%2Ftranslate&text=\xff\xfe", FORM),
    "deep json": (DEEP, JSON),
    "deep payload": (b"payload=" + DEEP, FORM),
    "bad payload json": (b"payload=%7Bnot+json", FORM),
    "unknown charset": (b'{"type": "url_verification"}', "application/json; charset=x-no-such"),
    "utf-16 charset": (
        '{"type": "url_verification"}'.encode("utf-16"),
        "application/json; charset=utf-16",
    ),
    "empty": (b"", JSON),
    "no content type": (b"command=%2Ftranslate&text=zh%3Een+x", ""),
    "binary": (bytes(range(256)) * 64, "application/octet-stream"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_unsigned_bodies_are_a_401_and_log_nothing(tolk, slack, xiangji, case):
    """Before: a fresh timestamp and a well-formed wrong signature got these parsed (and 500
    with a traceback) before anyone checked the signature."""
    body, content_type = MALFORMED[case]
    content = [("Content-Type", content_type)] if content_type else []
    with LogTap() as tap:
        for headers in ([], guessed()):
            status, answer = await exchange(
                tolk.port, raw_request("/slack/events", body, [*content, *headers])
            )
            assert status == 401, (case, status, answer[:200])
            assert b"Traceback" not in answer and b"Error" not in answer
    assert "Traceback" not in tap.text
    assert not [line for line in tap.lines() if " ERROR " in line]
    assert tap.size < 1000  # at most a line about refused requests
    await assert_nothing_happened(tolk, slack, xiangji)


def duplicated(body: str) -> dict[str, list[tuple[str, str]]]:
    ts, sig = (value for _, value in signed_headers(body))
    wrong = "v0=" + "0" * 64
    return {
        "signature twice": [
            ("X-Slack-Request-Timestamp", ts),
            ("X-Slack-Signature", sig),
            ("X-Slack-Signature", sig),
        ],
        "wrong signature, then the right one": [
            ("X-Slack-Request-Timestamp", ts),
            ("X-Slack-Signature", wrong),
            ("X-Slack-Signature", sig),
        ],
        "right signature, then a wrong one": [
            ("X-Slack-Request-Timestamp", ts),
            ("X-Slack-Signature", sig),
            ("X-Slack-Signature", wrong),
        ],
        "timestamp twice": [
            ("X-Slack-Request-Timestamp", ts),
            ("X-Slack-Request-Timestamp", ts),
            ("X-Slack-Signature", sig),
        ],
        "timestamp, then a word": [
            ("X-Slack-Request-Timestamp", ts),
            ("X-Slack-Request-Timestamp", "soon"),
            ("X-Slack-Signature", sig),
        ],
        "stale timestamp, then the right one": [
            ("X-Slack-Request-Timestamp", "1000000000"),
            ("X-Slack-Request-Timestamp", ts),
            ("X-Slack-Signature", sig),
        ],
        "signature with trailing junk": [
            ("X-Slack-Request-Timestamp", ts),
            ("X-Slack-Signature", sig + "00"),
        ],
        "signature in upper case": [
            ("X-Slack-Request-Timestamp", ts),
            ("X-Slack-Signature", sig.upper()),
        ],
        "timestamp with a sign": [
            ("X-Slack-Request-Timestamp", "+" + ts),
            ("X-Slack-Signature", sig),
        ],
        "timestamp with spaces inside": [
            ("X-Slack-Request-Timestamp", ts[:3] + " " + ts[3:]),
            ("X-Slack-Signature", sig),
        ],
    }


@pytest.mark.parametrize("case", sorted(duplicated("x")))
async def test_duplicated_or_malformed_signature_headers_are_a_401(tolk, slack, xiangji, case):
    """Before: the pre-check read the first value and Bolt verified the last, so a signed
    request with a junk first signature went through, and a second timestamp that is not a
    number was a 500 (and reached ``on_error``)."""
    body = command_body("/translate", "zh>en 我是中国人", response_url=slack.new_response_url())
    with LogTap() as tap:
        status, answer = await exchange(
            tolk.port,
            raw_request(
                "/slack/events", body.encode(), [("Content-Type", FORM), *duplicated(body)[case]]
            ),
        )
    assert status == 401, (case, status, answer)
    assert "Traceback" not in tap.text
    assert slack.calls_to("response_url") == []
    await assert_nothing_happened(tolk, slack, xiangji)


async def test_the_same_request_signed_once_is_accepted(tolk, slack, xiangji):
    """The cases above were refused for their headers: the same body, signed plainly, works."""
    body = command_body("/translate", "zh>en 我是中国人")
    status, answer = await exchange(
        tolk.port,
        raw_request(
            "/slack/events", body.encode(), [("Content-Type", FORM), *signed_headers(body)]
        ),
    )
    assert status == 200 and b"task" in answer.lower()
    assert len(await all_tasks(tolk)) == 1


# --- on_error never acts on an unverified body ----------------------------------------------------


async def test_on_error_never_acts_on_an_unverified_body(tolk, slack, monkeypatch, caplog):
    """Every listener fails (the store refuses to record). Unverified requests that name a
    ``response_url`` never reach ``on_error`` — nothing is posted there; the same command
    signed reaches it once, which shows the failure path is really there."""
    caplog.set_level(logging.INFO)

    async def refuse(*_, **__):
        raise RuntimeError("the store is locked")

    monkeypatch.setattr(tolk.services.store, "create_if_absent", refuse)
    hook = slack.new_response_url()
    body = command_body("/translate", "zh>en 我是中国人", response_url=hook)
    ts, sig = (value for _, value in signed_headers(body))
    attempts = {
        **duplicated(body),
        "no headers": [],
        "guessed signature": guessed(),
        "wrong secret": signed_headers(body, secret="not-the-secret"),
        "stale": [("X-Slack-Request-Timestamp", str(int(ts) - 301)), ("X-Slack-Signature", sig)],
    }
    for name, headers in attempts.items():
        for content_type in (FORM, "application/x-www-form-urlencoded; charset=x-no-such", JSON):
            status, _ = await exchange(
                tolk.port,
                raw_request(
                    "/slack/events", body.encode(), [("Content-Type", content_type), *headers]
                ),
            )
            assert status == 401, (name, content_type, status)
    assert slack.calls_to("response_url") == []
    assert not [r for r in caplog.records if "listener failed" in r.getMessage()]

    status, _ = await exchange(
        tolk.port,
        raw_request(
            "/slack/events", body.encode(), [("Content-Type", FORM), *signed_headers(body)]
        ),
    )
    assert status != 401  # (Bolt answers a failed listener with a 500)
    assert len(slack.calls_to("response_url")) == 1  # on_error told the person to try again
    assert [r for r in caplog.records if "listener failed" in r.getMessage()]


# --- a flood -------------------------------------------------------------------------------------

FLOOD = 20_000


async def test_twenty_thousand_unsigned_requests_grow_nothing(tolk, slack, xiangji, capsys):
    """Every kind of unsigned request above, 20,000 of them: all 401, /metrics, the log and
    the process stay the size they were."""
    async with tolk.session.get(f"http://127.0.0.1:{tolk.port}/healthz") as resp:
        assert resp.status == 200
    before = await metrics_text(tolk)
    requests = []
    for i in range(FLOOD):
        marker = f"attacker-{i}-\n2024-01-01 00:00:00,000 ERROR forged: \x1b[31mline\x1b[0m"
        kind = i % 4
        if kind == 0:
            body, content_type = (
                json.dumps({"type": marker, "response_url": "http://127.0.0.1:9/x"}).encode(),
                JSON,
            )
        elif kind == 1:
            body, content_type = (
                urlencode({"command": marker, "response_url": "http://127.0.0.1:9/x"}).encode(),
                FORM,
            )
        elif kind == 2:
            body, content_type = interaction_body({"type": marker}).encode(), FORM
        else:
            body, content_type = (
                b"\xff" + marker.encode() + b"[" * 200,
                "application/json; charset=x-" + str(i),
            )
        headers = guessed() if i % 2 else []
        requests.append(
            raw_request("/slack/events", body, [("Content-Type", content_type), *headers])
        )
    rss_before = rss_mb()  # with the requests built: what grows after is the server's
    with LogTap() as tap:
        started = time.monotonic()
        statuses = await flood(tolk.port, requests, connections=8, depth=50)
        seconds = time.monotonic() - started
    assert statuses == {401: FLOOD}
    after = await metrics_text(tolk)
    rss_after = rss_mb()
    started = time.monotonic()
    async with tolk.session.get(f"http://127.0.0.1:{tolk.port}/healthz") as resp:
        assert resp.status == 200
    healthz_ms = (time.monotonic() - started) * 1000
    with capsys.disabled():
        print(
            f"\n[figures] {FLOOD} unsigned requests in {seconds:.1f} s; /metrics "
            f"{len(before.splitlines())} → {len(after.splitlines())} lines, {len(after)} bytes; "
            f"log {tap.size} bytes in {len(tap.lines())} lines; RSS {rss_before:.0f} → "
            f"{rss_after:.0f} MB; /healthz after {healthz_ms:.1f} ms"
        )
    assert "attacker" not in after
    assert len(after.splitlines()) - len(before.splitlines()) <= 20  # the one "rejected" series
    assert len(after) < 20_000
    assert tap.size < 2_000 and "forged" not in tap.text and "Traceback" not in tap.text
    assert rss_after - rss_before < 40
    assert ack_counts(after).get("rejected") == FLOOD
    await assert_nothing_happened(tolk, slack, xiangji)
