"""Rozetta wire format: signing known answers, nonces, parameter builders, parsers on the
spec's sample JSON, the §6 classification table, error envelopes, ZIP unpacking and the
polling-cost helper. Pure: no network."""

from __future__ import annotations

import copy
import io
import stat
import zipfile
from urllib.parse import unquote

import pytest

from emulators import rozetta as emulator
from providers.errors import ErrorKind, ProviderError
from providers.rozetta import wire

# --------------------------------------------------------------------------- signing (§2)

#: Rozetta's published test vector (Node.js auth demo README).
PUBLISHED = (
    "YOUR_SECRETKEY",
    "1603173327657",
    "/api/v1/translate",
    "8526f55b026b8dabb90e63182a13d4359e95715bff11792ccc55fb43e88f9a88",
)
ITEM = "8c76e418-9842-455b-aac1-5be28e8e4e94"
WORKED = [  # secretKey "testsecret"
    (
        "1700000000000",
        "/api/v1/translate-result/all",
        "7b66378c2b6e09e330ea2765811430ce51090f6e01f59a1a0b39f13253fb7ef6",
    ),
    (
        "1700000000001",
        f"/api/v1/translate-result/{ITEM}",
        "e937fbb2fe5b3bf96f118b86f39326844a1958251364ca70eb2f0a3cf7efec6d",
    ),
    (
        "1700000000002",
        "/api/v1/file-translate",
        "53015eea44c1f6f7d272d30a6cc151cf404241b32b049d6f13aa6fc416ffdddf",
    ),
    (
        "1700000000003",
        f'/api/v1/downloads?ids=["{ITEM}"]',
        "17d28cc46880f0f45d5ef503204fab9cddd066fc5c6ab0ef9e7af3815ad32985",
    ),
]


def test_published_test_vector():
    secret, nonce, path, expected = PUBLISHED
    assert wire.sign(secret, nonce, path) == expected
    assert wire.sign(secret, int(nonce), path) == expected


@pytest.mark.parametrize(("nonce", "path", "expected"), WORKED)
def test_worked_examples(nonce, path, expected):
    assert wire.sign("testsecret", nonce, path) == expected
    assert wire.auth_headers("ak", "testsecret", int(nonce), path) == {
        "accessKey": "ak",
        "nonce": nonce,
        "signature": expected,
    }


@pytest.mark.parametrize(("nonce", "path", "expected"), [PUBLISHED[1:], *WORKED])
def test_emulator_signing_primitive_known_answers(nonce, path, expected):
    # The emulator signs with its own code; it must agree with the spec, not with wire.
    secret = "YOUR_SECRETKEY" if path == "/api/v1/translate" else "testsecret"
    assert emulator.hmac_sha256_hex(secret, nonce + path) == expected


def test_paths_for_the_worked_examples():
    assert WORKED[0][1] == wire.TRANSLATE_RESULT_ALL_PATH
    assert wire.translate_result_path(ITEM) == WORKED[1][1]
    assert WORKED[2][1] == wire.FILE_TRANSLATE_PATH
    signed, sent = wire.downloads_path([ITEM])
    assert signed == WORKED[3][1]
    assert sent == "/api/v1/downloads?ids=%5B%228c76e418-9842-455b-aac1-5be28e8e4e94%22%5D"
    assert unquote(sent) == signed  # the server decodes what was sent into what was signed


def test_downloads_ids_compact_json_deduplicated():
    signed, sent = wire.downloads_path(["a1", "b_2", "a1"])
    assert signed == '/api/v1/downloads?ids=["a1","b_2"]'
    assert "," not in sent and " " not in sent


@pytest.mark.parametrize("bad", ["", "../all", "a/b", 'a"b', "a b", "a?b", "%2e%2e", "-x"])
def test_ids_that_would_change_the_path_are_refused(bad):
    with pytest.raises(ValueError):
        wire.translate_result_path(bad)
    with pytest.raises(ValueError):
        wire.downloads_path([bad])


def test_downloads_needs_an_id():
    with pytest.raises(ValueError):
        wire.downloads_path([])


# --------------------------------------------------------------------------- nonces


def test_nonces_are_milliseconds_and_strictly_increasing_on_a_stuck_clock():
    source = wire.NonceSource(lambda: 1_700_000_000.0005)
    assert [source.next() for _ in range(3)] == [
        1_700_000_000_000,
        1_700_000_000_001,
        1_700_000_000_002,
    ]


def test_nonces_never_go_back_with_the_clock():
    now = [1_700_000_000.0]
    source = wire.NonceSource(lambda: now[0])
    first = source.next()
    now[0] -= 60  # NTP stepped the clock back
    assert source.next() == first + 1
    now[0] += 120
    assert source.next() == 1_700_000_060_000


def test_nonces_keep_increasing_across_a_restart():
    now = [1_700_000_000.0]
    before = wire.NonceSource(lambda: now[0])
    issued = [before.next() for _ in range(50)]  # a burst 50 ms ahead of the clock
    now[0] += 1.0  # a restart takes longer than that lead
    after = wire.NonceSource(lambda: now[0])  # fresh state, as after a restart
    assert after.next() > issued[-1]


# --------------------------------------------------------------------------- parameters (§3.1)


def test_file_translate_fields():
    assert wire.file_translate_fields(["en"]) == [("targetLangs", '["en"]'), ("fieldId", "1")]
    fields = wire.file_translate_fields(
        ["ja", "zh-CN", "ja"], field_id=414, contract_id="c-9", source_lang="en"
    )
    assert fields == [
        ("targetLangs", '["ja","zh-CN"]'),
        ("fieldId", "414"),
        ("contractId", "c-9"),
        ("sourceLang", "en"),
    ]
    with pytest.raises(ValueError):
        wire.file_translate_fields([])
    with pytest.raises(ValueError):
        wire.file_translate_fields(["ja"], field_id=" ")


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("report.pdf", "report.pdf"),
        ("C:\\Users\\me\\報告書.docx", "報告書.docx"),
        ("../../etc/passwd", "passwd"),
        ('say "hi".txt', "say _hi_.txt"),
        ("a\r\nb.txt", "a__b.txt"),
        ("..", "file"),
        ("", "file"),
    ],
)
def test_upload_names(given, sent):
    assert wire.upload_name(given) == sent


# --------------------------------------------------------------------------- classification (§6)

CLASSES = {
    40001: ErrorKind.PERMANENT,
    40002: ErrorKind.PERMANENT,
    40003: ErrorKind.PERMANENT,
    40005: ErrorKind.RETRYABLE,
    40006: ErrorKind.PERMANENT,
    40008: ErrorKind.PERMANENT,
    40100: ErrorKind.RETRYABLE,
    40101: ErrorKind.PERMANENT,
    40102: ErrorKind.RETRYABLE,
    40103: ErrorKind.RETRYABLE,
    40200: ErrorKind.PERMANENT,
    40201: ErrorKind.PERMANENT,
    40202: ErrorKind.PERMANENT,
    40203: ErrorKind.PERMANENT,
    40204: ErrorKind.PERMANENT,
    40300: ErrorKind.PERMANENT,
    40301: ErrorKind.PERMANENT,
}


@pytest.mark.parametrize(("code", "kind"), sorted(CLASSES.items()))
def test_classify_every_documented_code(code, kind):
    assert wire.classify(code) is kind
    assert wire.classify(str(code)) is kind
    assert wire.MEANINGS[code]


def test_the_table_is_complete():
    assert set(wire.MEANINGS) == set(CLASSES)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (50001, ErrorKind.RETRYABLE),  # unknown 5xxxx
        (40199, ErrorKind.RETRYABLE),  # unknown 401xx
        (40250, ErrorKind.PERMANENT),  # unknown other 4xxxx
        (40399, ErrorKind.PERMANENT),
        ("http-502", ErrorKind.RETRYABLE),
        ("http-429", ErrorKind.RETRYABLE),
        ("http-401", ErrorKind.PERMANENT),
        ("http-404", ErrorKind.PERMANENT),
        ("failure", ErrorKind.RETRYABLE),
        ("bad-response", ErrorKind.RETRYABLE),
        ("bad-zip", ErrorKind.RETRYABLE),
        ("transport", ErrorKind.RETRYABLE),
        ("unsafe-zip", ErrorKind.PERMANENT),
        ("bad-request", ErrorKind.PERMANENT),
        ("item-error", ErrorKind.PERMANENT),
        ("weird", ErrorKind.PERMANENT),
    ],
)
def test_classify_unknown_codes(code, kind):
    assert wire.classify(code) is kind


# --------------------------------------------------------------------------- error envelopes


@pytest.mark.parametrize(
    "body",
    [
        {"status": "failure", "data": {"code": 40006, "message": "The signature is incorrect."}},
        {"status": "failure", "data": {"errorCode": "40006"}},
        {"status": "failure", "code": 40006, "message": "The signature is incorrect."},
        {"status": "failure", "error": {"code": 40006}},
        {"status": "failure", "data": "The signature is incorrect."},  # text only
    ],
)
def test_failure_envelopes_wherever_the_code_is(body):
    with pytest.raises(ProviderError) as info:
        wire.check(401, body, wire.TRANSLATE_RESULT_ALL)
    err = info.value
    assert (err.provider, err.operation, err.code, err.kind) == (
        "rozetta",
        "translate-result/all",
        "40006",
        ErrorKind.PERMANENT,
    )
    assert err.message.startswith("the signature is incorrect")


def test_bigger_nonce_by_message_only_is_40005():
    body = {"status": "failure", "data": {"message": "Please specify a bigger nonce."}}
    assert wire.error_code(body) == "40005"
    assert wire.error_code({"status": "success", "data": []}) is None
    assert wire.error_code(["x"]) is None


@pytest.mark.parametrize(
    ("status", "body", "code", "kind"),
    [
        (401, None, "http-401", ErrorKind.PERMANENT),  # auth refused, no JSON at all
        (403, {"message": "Forbidden"}, "http-403", ErrorKind.PERMANENT),
        (404, {}, "http-404", ErrorKind.PERMANENT),
        (503, None, "http-503", ErrorKind.RETRYABLE),
        (200, {"status": "failure"}, "failure", ErrorKind.RETRYABLE),
        (200, ["not", "an", "object"], "bad-response", ErrorKind.RETRYABLE),
        (200, {"data": []}, "bad-response", ErrorKind.RETRYABLE),
        (400, {"status": "success", "data": None}, "http-400", ErrorKind.PERMANENT),
    ],
)
def test_check_odd_answers(status, body, code, kind):
    with pytest.raises(ProviderError) as info:
        wire.check(status, body, "x")
    assert (info.value.code, info.value.kind) == (code, kind)


def test_check_returns_data_and_redacts_secrets():
    assert wire.check(200, {"status": "success", "data": {"a": 1}}, "x") == {"a": 1}
    assert wire.check(200, {"status": "SUCCESS", "data": None}, "x") is None
    body = {"status": "failure", "data": {"code": 40003, "message": "key rz-secret-9 is bad"}}
    with pytest.raises(ProviderError) as info:
        wire.check(401, body, "x", redact=["rz-secret-9", "", "abcdef"])
    assert "rz-secret-9" not in str(info.value) and "[redacted]" in info.value.message
    assert info.value.kind is ErrorKind.PERMANENT


# --------------------------------------------------------------------------- parsers (§3, §4)

SEED_ALL = {  # the seed's /translate-result/all example, verbatim
    "status": "success",
    "data": [
        {
            "translateId": "8c76e418-9842-455b-aac1-5be28e8e4e94",
            "done": False,
            "langs": ["zh-CN", "ja"],
            "fieldId": 1,
            "createdAt": {},
            "items": [
                {
                    "translateItemId": "8c76e418-9842-455b-aac1-5be28e8e4e94",
                    "lang": "ja",
                    "wordCount": 1000,
                    "detectedLang": "zh-CN",
                    "done": False,
                    "originalName": "test.pdf",
                    "downloaded": False,
                    "error": False,
                    "errorCode": None,
                    "errorMessage": None,
                    "id": 5507,
                }
            ],
        }
    ],
}

CALLBACK_BODY = {  # §3.5: top-level done false while its only item is done
    "status": "success",
    "data": {
        "translateId": "8c76e418-9842-455b-aac1-5be28e8e4e94",
        "done": False,
        "langs": ["en"],
        "fieldId": 1,
        "createdAt": "2019-07-21T17:32:28Z",
        "items": [
            {
                "translateItemId": "8c76e418-9842-455b-aac1-5be28e8e4e94",
                "lang": "ja",
                "wordCount": 1000,
                "detectedLang": "en",
                "done": True,
                "originalName": "test.pdf",
                "downloaded": True,
                "error": False,
            }
        ],
    },
}


def test_parse_seed_all_example():
    (t,) = wire.parse_translate_result_all(200, SEED_ALL)
    assert t.translate_id == "8c76e418-9842-455b-aac1-5be28e8e4e94"
    assert (t.done, t.langs, t.field_id, t.created_at) == (False, ("zh-CN", "ja"), "1", None)
    (item,) = t.items
    assert item == wire.TranslateItem(
        item_id="8c76e418-9842-455b-aac1-5be28e8e4e94",
        file_name="test.pdf",
        target_lang="ja",
        done=False,
        word_count=1000,
        detected_lang="zh-CN",
        numeric_id=5507,
    )
    assert item.state == "pending" and not item.settled and item.kind is None
    assert item.failure() is None
    assert not t.finished and t.pending_items == (item,)
    assert item.raw == SEED_ALL["data"][0]["items"][0]
    assert t.raw["createdAt"] == {}


def test_parse_keeps_unknown_fields_in_raw():
    body = copy.deepcopy(SEED_ALL)
    body["data"][0]["owner"] = "someone"
    body["data"][0]["items"][0].update(t4ooAuthFailed=False, pageCount=3, wordCount=12.5)
    (t,) = wire.parse_translate_result_all(200, body)
    assert t.raw["owner"] == "someone"
    assert t.items[0].raw["pageCount"] == 3 and t.items[0].word_count == 12.5


def test_parse_single_result_and_the_callback_quirk():
    t = wire.parse_translate_result(200, CALLBACK_BODY)
    assert t.created_at == "2019-07-21T17:32:28Z"
    assert not t.done and t.finished  # decided per item, not by the top-level flag
    assert t.done_items == t.items and t.items[0].downloaded
    assert t.items[0].error_code is None and t.items[0].numeric_id is None


def test_parse_file_translate_sample():
    body = {"status": "success", "data": {"translateId": ITEM}}
    assert wire.parse_file_translate(200, body) == ITEM
    with pytest.raises(ProviderError) as info:
        wire.parse_file_translate(200, {"status": "success", "data": {}})
    assert (info.value.code, info.value.kind) == ("bad-response", ErrorKind.RETRYABLE)


def _item(**overrides):
    item = copy.deepcopy(SEED_ALL["data"][0]["items"][0])
    item.update(overrides)
    return item


@pytest.mark.parametrize("done", [False, True])  # the done value on an error is undocumented
def test_item_error(done):
    raw = _item(done=done, error=True, errorCode="40300", errorMessage="Unable to detect")
    item = wire.parse_item(raw)
    assert item.state == "failed" and item.settled
    assert item.kind is ErrorKind.PERMANENT
    err = item.failure()
    assert (err.provider, err.operation, err.code, err.kind) == (
        "rozetta",
        "translate-result",
        "40300",
        ErrorKind.PERMANENT,
    )
    assert "test.pdf" in err.message and "unable to detect" in err.message


@pytest.mark.parametrize(
    ("overrides", "code", "kind"),
    [
        ({"error": True}, "item-error", ErrorKind.PERMANENT),
        ({"error": True, "errorCode": 40102}, "40102", ErrorKind.RETRYABLE),
        ({"errorCode": "40301"}, "40301", ErrorKind.PERMANENT),  # a code without the flag
        ({"t4ooAuthFailed": True}, "40001", ErrorKind.PERMANENT),
        ({"error": "true", "errorCode": ""}, "item-error", ErrorKind.PERMANENT),
    ],
)
def test_item_error_variants(overrides, code, kind):
    item = wire.parse_item(_item(**overrides))
    assert item.state == "failed"
    assert (item.failure().code, item.failure().kind) == (code, kind)


def test_items_without_an_id_are_dropped_and_odd_entries_skipped():
    body = copy.deepcopy(SEED_ALL)
    body["data"][0]["items"] += [{"lang": "en"}, None]
    body["data"] += [None, "x", {"done": True}]
    (t,) = wire.parse_translate_result_all(200, body)
    assert len(t.items) == 1 and len(t.raw["items"]) == 3


def test_failure_envelope_that_still_carries_translations_is_parsed():
    # The seed: "even if only one paragraph fails, the request returns an error".
    body = copy.deepcopy(SEED_ALL)
    body["status"] = "failure"
    body["data"][0]["items"][0].update(error=True, errorCode=40102)
    (t,) = wire.parse_translate_result_all(200, body)
    assert t.failed_items[0].kind is ErrorKind.RETRYABLE
    single = {"status": "failure", "data": body["data"][0]}
    assert wire.parse_translate_result(200, single).finished


def test_result_refusals():
    body = {
        "status": "failure",
        "data": {"code": 40203, "message": f"Translation {ITEM} not found."},
    }
    with pytest.raises(ProviderError) as info:
        wire.parse_translate_result(404, body)
    assert (info.value.code, info.value.kind) == ("40203", ErrorKind.PERMANENT)
    with pytest.raises(ProviderError) as info:
        wire.parse_translate_result(200, {"status": "success", "data": [1]})
    assert info.value.code == "bad-response"
    assert wire.parse_translate_result_all(200, {"status": "success", "data": None}) == ()
    assert wire.parse_translate_result_all(200, {"status": "success", "data": []}) == ()
    with pytest.raises(ProviderError):
        wire.parse_translate_result_all(200, {"status": "success", "data": {"x": 1}})


# --------------------------------------------------------------------------- downloads (§3.4)


def make_zip(*entries: tuple[str, bytes], utf8: bool = True) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


def test_parse_download():
    archive = make_zip(("a.txt", b"[ja] x"))
    assert wire.parse_download(200, archive) == archive
    failure = b'{"status":"failure","data":{"code":40202,"message":"not finished"}}'
    with pytest.raises(ProviderError) as info:
        wire.parse_download(400, failure)
    assert (info.value.code, info.value.kind) == ("40202", ErrorKind.PERMANENT)
    with pytest.raises(ProviderError) as info:
        wire.parse_download(200, failure)  # a failure answered with HTTP 200
    assert info.value.code == "40202"
    with pytest.raises(ProviderError) as info:
        wire.parse_download(200, b"<html>oops</html>")
    assert (info.value.code, info.value.kind) == ("bad-response", ErrorKind.RETRYABLE)
    with pytest.raises(ProviderError) as info:
        wire.parse_download(502, b"bad gateway")
    assert (info.value.code, info.value.kind) == ("http-502", ErrorKind.RETRYABLE)


def test_unpack_zip_names_and_content():
    archive = make_zip(
        ("report.txt", b"[ja] hello\n"),
        ("docs/", b""),
        ("docs/報告書.docx", b"\x00binary"),
        ("./ja/report.txt", b"[ja] again"),
    )
    assert wire.unpack_zip(archive) == (
        ("report.txt", b"[ja] hello\n"),
        ("docs/報告書.docx", b"\x00binary"),
        ("ja/report.txt", b"[ja] again"),
    )


def test_unpack_zip_utf8_names_without_the_utf8_flag():
    # Some zippers write UTF-8 names without setting the UTF-8 flag (zipfile reads cp437).
    name = "翻訳.txt".encode()
    placeholder = b"p" * len(name)
    raw = make_zip((placeholder.decode(), b"data")).replace(placeholder, name)
    assert wire.unpack_zip(raw) == (("翻訳.txt", b"data"),)


@pytest.mark.parametrize(
    "name",
    ["../evil.txt", "a/../../evil.txt", "/etc/passwd", "C:/evil.txt", "..\\evil.txt", "ok/\x01x"],
)
def test_unpack_zip_refuses_zip_slip(name):
    archive = make_zip(("fine.txt", b"ok"), (name, b"pwned"))
    with pytest.raises(ProviderError) as info:
        wire.unpack_zip(archive)
    assert (info.value.code, info.value.kind) == ("unsafe-zip", ErrorKind.PERMANENT)


def test_unpack_zip_refuses_symlinks():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(ProviderError) as info:
        wire.unpack_zip(out.getvalue())
    assert info.value.code == "unsafe-zip"


def test_unpack_zip_caps_the_unpacked_size():
    bomb = make_zip(("zeros.txt", b"\0" * 2_000_000))  # ~2 KB compressed
    assert len(bomb) < 10_000
    with pytest.raises(ProviderError) as info:
        wire.unpack_zip(bomb, max_total_bytes=1_000_000)
    assert (info.value.code, info.value.kind) == ("zip-too-large", ErrorKind.PERMANENT)
    many = make_zip(*((f"{n}.txt", b"") for n in range(5)))
    with pytest.raises(ProviderError) as info:
        wire.unpack_zip(many, max_entries=4)
    assert info.value.code == "zip-too-large"
    assert len(wire.unpack_zip(bomb)) == 1  # the default cap is far above that


def test_unpack_zip_counts_bytes_read_not_the_headers():
    archive = bytearray(make_zip(("a.txt", b"A" * 50_000)))
    # Lie in both headers: claim the file is 10 bytes long.
    for magic, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = archive.index(magic)
        archive[at + offset : at + offset + 4] = (10).to_bytes(4, "little")
    with pytest.raises(ProviderError) as info:
        wire.unpack_zip(bytes(archive), max_total_bytes=20_000)
    assert info.value.code in {"zip-too-large", "bad-zip"}  # never 50 KB handed back


def test_unpack_zip_damaged_archive_is_retryable():
    archive = make_zip(("a.txt", b"hello" * 100))
    with pytest.raises(ProviderError) as info:
        wire.unpack_zip(archive[: len(archive) // 2])
    assert (info.value.code, info.value.kind) == ("bad-zip", ErrorKind.RETRYABLE)


# --------------------------------------------------------------------------- polling cost


@pytest.mark.parametrize(
    ("pending", "history", "choice"),
    [
        (0, 0, "per-id"),  # nothing to ask
        (1, 1, "all"),  # the history is just our task: the same single request
        (1, 50, "per-id"),  # one id: never pay for someone else's history
        (2, 50, "all"),
        (20, 5_000, "all"),  # 1 request + 5,000 objects < 20 requests
        (5, 5_000, "per-id"),
        (200, 200, "all"),
        (200, 50_000, "all"),
        (200, 150_000, "per-id"),
        (3, 0, "all"),  # no estimate yet: at least the pending ones are in it
    ],
)
def test_choose_poll(pending, history, choice):
    assert wire.choose_poll(pending, history) == choice


def test_choose_poll_request_cost_is_a_knob():
    assert wire.choose_poll(2, 5_000, request_cost=10_000) == "all"
    assert wire.choose_poll(2, 5_000, request_cost=10) == "per-id"
