"""RozettaClient against the running RozettaEmulator over real loopback HTTP (free port):
upload → poll → done → download → unpack, nonce order under concurrency, item errors,
HTTP faults and auth refusals. Assertions are on what reached the emulator."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from urllib.parse import quote, unquote

import pytest
from yarl import URL

from emulators.rozetta import RozettaEmulator
from providers.errors import ErrorKind, ProviderError
from providers.rozetta import RozettaClient, RozettaKeys, wire

KEYS = RozettaKeys("rz-access", "rz-secret")
T0 = 1_700_000_000.0


def hmac_hex(secret: str, message: str) -> str:  # the test's own signing, like the emulator's
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
async def emu():
    async with RozettaEmulator(contract_id="c-1") as emulator:
        yield emulator


def make_client(session, emu, keys=KEYS, **kw) -> RozettaClient:
    kw.setdefault("contract_id", "c-1")
    return RozettaClient(session, keys, api_url=emu.base_url, **kw)


@pytest.fixture
def client(session, emu):
    return make_client(session, emu)


async def raw_get(session, emu, path_qs: str, *, nonce: int, secret="rz-secret", **headers):
    """A hand-built signed GET (the test's own code, not the client's)."""
    signed = unquote(path_qs)
    sent = {
        "accessKey": "rz-access",
        "nonce": str(nonce),
        "signature": hmac_hex(secret, f"{nonce}{signed}"),
        **headers,
    }
    async with session.get(URL(emu.base_url + path_qs, encoded=True), headers=sent) as resp:
        return resp.status, await resp.json()


# --------------------------------------------------------------------------- the whole flow


async def test_upload_poll_per_id_download_unpack(client, emu):
    text = "これはペンです。\nSecond line\n".encode()
    tid = await client.file_translate([("notes.txt", text)], ["en"], source_lang="ja")

    (sent,) = emu.requests_for("file-translate")
    assert sent.method == "POST" and sent.path == "/api/v1/file-translate"
    assert sent.fields == {
        "targetLangs": '["en"]',
        "fieldId": "1",
        "contractId": "c-1",
        "sourceLang": "ja",
    }
    assert sent.files == (("notes.txt", text),)
    assert sent.headers["accesskey"] == "rz-access"
    assert sent.headers["signature"] == hmac_hex(
        "rz-secret", sent.headers["nonce"] + "/api/v1/file-translate"
    )
    assert abs(int(sent.headers["nonce"]) - time.time() * 1000) < 60_000  # milliseconds

    first = await client.translate_result(tid)  # done_after_polls=2: still pending
    assert first.translate_id == tid and not first.finished
    (item,) = first.items
    assert (item.file_name, item.target_lang, item.done, item.state) == (
        "notes.txt",
        "en",
        False,
        "pending",
    )
    assert (item.detected_lang, item.word_count) == ("ja", 3)  # T-4OO counts words
    assert first.langs == ("ja", "en") and first.field_id == "1"

    second = await client.translate_result(tid)
    assert second.finished and second.items[0].done and second.items[0].state == "done"
    (polled,) = emu.requests_for(f"/api/v1/translate-result/{tid}")[-1:]
    assert polled.operation == "translate-result" and polled.code is None

    files = await client.download_files([item.item_id])
    assert files == (("notes.txt", "[en] これはペンです。\n[en] Second line\n".encode()),)
    (download,) = emu.requests_for("downloads")
    assert json.loads(download.query["ids"]) == [item.item_id]
    assert download.headers["signature"] == hmac_hex(
        "rz-secret", f'{download.nonce}/api/v1/downloads?ids=["{item.item_id}"]'
    )
    assert (await client.translate_result(tid)).items[0].downloaded


async def test_several_files_and_languages_polled_with_all(client, emu):
    tid = await client.file_translate(
        [("報告書.txt", "売上は増えた\n".encode()), ("logo.bin", b"\x00\x01\x02")],
        ["en", "zh-CN"],
    )
    (sent,) = emu.requests_for("file-translate")
    assert "sourceLang" not in sent.fields  # automatic detection
    assert [name for name, _ in sent.files] == ["報告書.txt", "logo.bin"]  # raw UTF-8 names

    (pending,) = await client.translate_result_all()
    assert pending.translate_id == tid and len(pending.items) == 4 and not pending.finished
    (done,) = await client.translate_result_all()
    assert done.finished and len(done.done_items) == 4
    assert {(i.file_name, i.target_lang) for i in done.items} == {
        ("報告書.txt", "en"),
        ("報告書.txt", "zh-CN"),
        ("logo.bin", "en"),
        ("logo.bin", "zh-CN"),
    }
    assert [r.operation for r in emu.requests] == [
        "file-translate",
        "translate-result/all",
        "translate-result/all",
    ]

    files = dict(await client.download_files([i.item_id for i in done.items]))
    assert files["報告書.txt"] == "[en] 売上は増えた\n".encode()
    assert files["zh-CN/報告書.txt"] == "[zh-CN] 売上は増えた\n".encode()
    assert files["logo.bin"] == files["zh-CN/logo.bin"] == b"\x00\x01\x02"  # binary: copied


async def test_finish_and_all_with_a_history(session):
    async with RozettaEmulator(contract_id=None, history=30, done_after_polls=10) as emu:
        client = make_client(session, emu, contract_id=None)
        tid = await client.file_translate([("a.txt", b"hello")], ["ja"])
        assert "contractId" not in emu.requests[-1].fields
        translations = await client.translate_result_all()
        assert len(translations) == 31
        ours = {t.translate_id: t for t in translations}[tid]
        assert not ours.finished
        assert all(t.finished and t.items[0].downloaded for t in translations if t is not ours)
        emu.finish(ours.items[0].item_id)
        assert (await client.translate_result(tid)).finished
        assert wire.choose_poll(1, len(translations)) == "per-id"


# --------------------------------------------------------------------------- item errors


@pytest.mark.parametrize("error_done", [False, True])
async def test_item_error(session, error_done):
    async with RozettaEmulator(contract_id="c-1", error_done=error_done) as emu:
        client = make_client(session, emu)
        emu.faults.item_error("broken.txt", code=40102, message="Translation failed (TTT)")
        tid = await client.file_translate([("ok.txt", b"fine"), ("broken.txt", b"bad")], ["ja"])
        await client.translate_result(tid)
        t = await client.translate_result(tid)
        assert t.finished
        ((good,), (bad,)) = t.done_items, t.failed_items
        assert good.file_name == "ok.txt" and bad.file_name == "broken.txt"
        assert bad.done is error_done and bad.error and bad.state == "failed"
        err = bad.failure()
        assert (err.code, err.kind) == ("40102", ErrorKind.RETRYABLE)
        assert "broken.txt" in err.message
        with pytest.raises(ProviderError) as info:
            await client.downloads([bad.item_id])
        assert (info.value.code, info.value.kind) == ("40202", ErrorKind.PERMANENT)
        assert await client.download_files([good.item_id]) == (("ok.txt", b"[ja] fine"),)


async def test_item_error_with_a_failure_envelope_and_language_detection(session):
    async with RozettaEmulator(
        contract_id="c-1", done_after_polls=1, item_errors_fail_request=True
    ) as emu:
        client = make_client(session, emu)
        tid = await client.file_translate([("empty.txt", b""), ("x.txt", b"hi")], ["ja"])
        (t,) = await client.translate_result_all()  # answered status: failure, data kept
        assert t.translate_id == tid and t.finished
        assert emu.requests[-1].code is None
        ((bad,), (good,)) = t.failed_items, t.done_items
        assert (bad.file_name, bad.failure().code, bad.kind) == (
            "empty.txt",
            "40300",
            ErrorKind.PERMANENT,
        )
        assert good.file_name == "x.txt"
        single = await client.translate_result(tid)
        assert single.failed_items[0].error_code == "40300"


async def test_item_error_by_item_id(client, emu):
    tid = await client.file_translate([("a.txt", b"hello")], ["ja"])
    (item,) = (await client.translate_result(tid)).items
    emu.faults.item_error(item.item_id, code=40301)
    (item,) = (await client.translate_result(tid)).items
    assert (item.state, item.failure().code, item.kind) == (
        "failed",
        "40301",
        ErrorKind.PERMANENT,
    )


# --------------------------------------------------------------------------- nonces


async def test_a_lower_nonce_is_refused(session, emu):
    now = int(time.time() * 1000)
    assert (await raw_get(session, emu, wire.TRANSLATE_RESULT_ALL_PATH, nonce=now))[0] == 200
    for nonce in (now - 1, now):  # lower, then equal
        status, body = await raw_get(session, emu, wire.TRANSLATE_RESULT_ALL_PATH, nonce=nonce)
        assert status == 401
        assert body == {
            "status": "failure",
            "data": {"code": 40005, "message": "Please specify a bigger nonce."},
        }
    assert [r.code for r in emu.requests] == [None, 40005, 40005]
    assert (await raw_get(session, emu, wire.TRANSLATE_RESULT_ALL_PATH, nonce=now + 1))[0] == 200


async def test_50_concurrent_calls_never_send_an_out_of_order_nonce(session, emu):
    client = make_client(session, emu, clock=lambda: T0)  # a stuck clock: last + 1 every time
    tid = await client.file_translate([("a.txt", b"hello")], ["ja"])
    calls = [
        client.translate_result(tid) if n % 2 else client.translate_result_all() for n in range(50)
    ]
    results = await asyncio.gather(*calls)
    assert len(results) == 50
    assert emu.refusals() == []  # no 40005, nor anything else
    nonces = [int(r.nonce) for r in sorted(emu.requests, key=lambda r: r.seq)]
    assert nonces == list(range(int(T0 * 1000), int(T0 * 1000) + 51))


async def test_concurrent_calls_with_the_real_clock_and_a_slow_server(session, emu):
    client = make_client(session, emu)
    emu.faults.delay("translate-result/all", 0.01)
    await asyncio.gather(*(client.translate_result_all() for _ in range(20)))
    nonces = [int(r.nonce) for r in sorted(emu.requests, key=lambda r: r.seq)]
    assert emu.refusals() == [] and nonces == sorted(set(nonces))


async def test_40005_is_retried_once_with_a_fresh_nonce(session, emu):
    client = make_client(session, emu, clock=lambda: T0)
    emu.last_nonce["rz-access"] = int(T0 * 1000)  # someone else used our first nonce
    assert await client.translate_result_all() == ()
    assert [(r.nonce, r.code) for r in emu.requests] == [
        (str(int(T0 * 1000)), 40005),
        (str(int(T0 * 1000) + 1), None),
    ]


async def test_40005_twice_is_a_retryable_error(session, emu):
    client = make_client(session, emu, clock=lambda: T0)
    emu.last_nonce["rz-access"] = int(T0 * 1000) + 10_000  # another process is ahead
    for call in (client.translate_result_all(), client.downloads(["x"])):
        with pytest.raises(ProviderError) as info:
            await call
        assert (info.value.code, info.value.kind) == ("40005", ErrorKind.RETRYABLE)
    assert len(emu.refusals(40005)) == 4


async def test_a_restarted_client_carries_on(session, emu):
    now = [T0]
    first = make_client(session, emu, clock=lambda: now[0])
    await asyncio.gather(*(first.translate_result_all() for _ in range(10)))
    now[0] += 1.0  # the process restarts: new client, new nonce state
    second = make_client(session, emu, clock=lambda: now[0])
    await second.translate_result_all()
    assert emu.refusals() == []


# --------------------------------------------------------------------------- faults


async def test_5xx_is_retryable_with_retry_after(client, emu):
    emu.faults.http("translate-result/all", status=503, retry_after=7)
    with pytest.raises(ProviderError) as info:
        await client.translate_result_all()
    assert (info.value.code, info.value.kind, info.value.retry_after) == (
        "http-503",
        ErrorKind.RETRYABLE,
        7.0,
    )
    assert await client.translate_result_all() == ()  # only once


async def test_malformed_json_is_retryable(client, emu):
    emu.faults.malformed("file-translate")
    with pytest.raises(ProviderError) as info:
        await client.file_translate([("a.txt", b"x")], ["ja"])
    assert (info.value.code, info.value.kind) == ("bad-json", ErrorKind.RETRYABLE)
    await client.file_translate([("a.txt", b"x")], ["ja"])  # the form is rebuilt


async def test_download_faults_are_retryable(client, emu):
    tid = await client.file_translate([("a.txt", b"x")], ["ja"])
    emu.finish((await client.translate_result(tid)).items[0].item_id)
    (item,) = (await client.translate_result(tid)).items
    emu.faults.http("downloads", status=502)
    emu.faults.malformed("downloads")
    for code in ("http-502", "bad-response"):
        with pytest.raises(ProviderError) as info:
            await client.downloads([item.item_id])
        assert (info.value.code, info.value.kind) == (code, ErrorKind.RETRYABLE)
    assert (await client.downloads([item.item_id])).startswith(b"PK")


async def test_transport_failure_is_retryable(session):
    emu = RozettaEmulator()
    await emu.start()
    client = make_client(session, emu)
    await emu.close()
    for call in (client.translate_result_all(), client.downloads(["x"])):
        with pytest.raises(ProviderError) as info:
            await call
        assert (info.value.code, info.value.kind) == ("transport", ErrorKind.RETRYABLE)


async def test_rate_limit_code_is_retryable(client, emu):
    emu.faults.code("*", 40103)
    with pytest.raises(ProviderError) as info:
        await client.translate_result_all()
    assert (info.value.code, info.value.kind) == ("40103", ErrorKind.RETRYABLE)
    assert info.value.message == (
        "request frequency limit exceeded (Rozetta: Exceeded request frequency limit.)"
    )
    assert [r.code for r in emu.requests] == [40103]


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("keys", "code"),
    [
        (RozettaKeys("rz-access", "wrong-secret-value"), "40006"),
        (RozettaKeys("nobody-wrong-secret-value", "rz-secret"), "40002"),
    ],
)
async def test_auth_failures_are_permanent_and_leak_nothing(session, emu, keys, code):
    client = make_client(session, emu, keys)
    with pytest.raises(ProviderError) as info:
        await client.file_translate([("a.txt", b"x")], ["ja"])
    err = info.value
    assert (err.provider, err.operation, err.code, err.kind) == (
        "rozetta",
        "file-translate",
        code,
        ErrorKind.PERMANENT,
    )
    assert emu.requests[-1].status == 401
    signature = emu.requests[-1].headers["signature"]
    for text in (str(err), repr(err), err.message, repr(keys), repr(client)):
        assert "wrong-secret-value" not in text and signature not in text
        assert "rz-secret" not in text


async def test_auth_failure_answered_with_http_200_is_still_permanent(session):
    async with RozettaEmulator(failures_as_200=True) as emu:
        client = make_client(session, emu, RozettaKeys("rz-access", "nope"))
        with pytest.raises(ProviderError) as info:
            await client.translate_result_all()
        assert (info.value.code, info.value.kind) == ("40006", ErrorKind.PERMANENT)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"contract_id": "other"}, "40204"),
        ({"field_id": "999"}, "40202"),
        ({"target_langs": ["xx"]}, "40301"),
        ({"source_lang": "ja", "target_langs": ["ja"]}, "40301"),
    ],
)
async def test_upload_refusals_are_permanent(client, kwargs, code):
    target_langs = kwargs.pop("target_langs", ["ja"])
    with pytest.raises(ProviderError) as info:
        await client.file_translate([("a.txt", b"x")], target_langs, **kwargs)
    assert (info.value.code, info.value.kind) == (code, ErrorKind.PERMANENT)


async def test_missing_contract_is_refused_when_required(session, emu):
    client = make_client(session, emu, contract_id=None)
    with pytest.raises(ProviderError) as info:
        await client.file_translate([("a.txt", b"x")], ["ja"])
    assert (info.value.code, info.value.kind) == ("40200", ErrorKind.PERMANENT)


async def test_unknown_translation_and_item(client):
    with pytest.raises(ProviderError) as info:
        await client.translate_result("8c76e418-9842-455b-aac1-5be28e8e4e94")
    assert (info.value.code, info.value.kind) == ("40203", ErrorKind.PERMANENT)
    with pytest.raises(ProviderError) as info:
        await client.downloads(["8c76e418-9842-455b-aac1-5be28e8e4e94"])
    assert (info.value.code, info.value.kind) == ("40203", ErrorKind.PERMANENT)


async def test_bad_arguments_send_nothing(client, emu):
    for call in (
        client.file_translate([], ["ja"]),
        client.file_translate([("a.txt", b"x")], []),
        client.translate_result("../all"),
        client.downloads([]),
        client.downloads(['a"]']),
    ):
        with pytest.raises(ProviderError) as info:
            await call
        assert (info.value.code, info.value.kind) == ("bad-request", ErrorKind.PERMANENT)
    assert emu.requests == []


async def test_zip_slip_in_a_download_is_refused(client, emu):
    tid = await client.file_translate([("a.txt", b"x")], ["ja"])
    item = (await client.translate_result(tid)).items[0]
    emu.finish(item.item_id)
    emu.faults.zip_extra("../../evil.sh", b"rm -rf /")
    with pytest.raises(ProviderError) as info:
        await client.download_files([item.item_id])
    assert (info.value.code, info.value.kind) == ("unsafe-zip", ErrorKind.PERMANENT)
    assert await client.download_files([item.item_id]) == (("a.txt", b"[ja] x"),)


async def test_download_size_cap(session, emu):
    client = make_client(session, emu, max_download_bytes=100)
    tid = await client.file_translate([("big.txt", b"word " * 1000)], ["ja"])
    emu.finish((await client.translate_result(tid)).items[0].item_id)
    item = (await client.translate_result(tid)).items[0]
    emu.faults.zip_extra("pad.bin", bytes(range(256)) * 4)  # incompressible
    with pytest.raises(ProviderError) as info:
        await client.downloads([item.item_id])
    assert (info.value.code, info.value.kind) == ("too-large", ErrorKind.PERMANENT)


async def test_the_encoded_query_is_sent_once_and_signed_decoded(session, emu):
    client = make_client(session, emu)
    with pytest.raises(ProviderError):
        await client.downloads(["a-1", "b_2"])  # unknown ids, but the signature was fine
    (sent,) = emu.requests
    assert sent.code == 40203 and sent.query == {"ids": '["a-1","b_2"]'}
    ids = quote('["a-1","b_2"]', safe="")
    status, _ = await raw_get(session, emu, f"/api/v1/downloads?ids={ids}", nonce=10**13)
    assert status == 404  # the hand-built request agrees: 40203, not 40006
