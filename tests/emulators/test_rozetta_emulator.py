"""RozettaEmulator on its own, driven by hand-built requests signed by the test's own code:
it must refuse what Rozetta refuses (spec §9) and walk items through their states."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import zipfile
from urllib.parse import quote, unquote

import aiohttp
import pytest
from yarl import URL

from emulators.rozetta import RozettaEmulator

ALL = "/api/v1/translate-result/all"
UPLOAD = "/api/v1/file-translate"


class Caller:
    """Signs like Rozetta's samples (HMAC-SHA256 of nonce + decoded path), nonce += 1."""

    def __init__(self, session, emu, access="rz-access", secret="rz-secret", nonce=1):
        self.session, self.emu = session, emu
        self.access, self.secret, self.nonce = access, secret, nonce

    def headers(self, path_qs: str, *, nonce: int | None = None, sign_as: str | None = None):
        if nonce is None:
            self.nonce += 1
            nonce = self.nonce
        message = f"{nonce}{sign_as if sign_as is not None else unquote(path_qs)}"
        signature = hmac.new(self.secret.encode(), message.encode(), hashlib.sha256).hexdigest()
        return {"accessKey": self.access, "nonce": str(nonce), "signature": signature}

    async def get(self, path_qs: str, **kw) -> tuple[int, dict]:
        headers = kw.pop("headers", None) or self.headers(path_qs, **kw)
        url = URL(self.emu.base_url + path_qs, encoded=True)
        async with self.session.get(url, headers=headers) as resp:
            return resp.status, await resp.json()

    async def get_bytes(self, path_qs: str) -> tuple[int, str, bytes]:
        url = URL(self.emu.base_url + path_qs, encoded=True)
        async with self.session.get(url, headers=self.headers(path_qs)) as resp:
            return resp.status, resp.content_type, await resp.read()

    async def upload(self, fields=None, files=(("a.txt", b"hello"),), *, file_field="files"):
        form = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
        defaults = {"targetLangs": '["ja"]', "fieldId": "1", "contractId": "rz-contract"}
        for name, value in (defaults if fields is None else fields).items():
            if value is not None:
                form.add_field(name, value)
        for name, data in files:
            form.add_field(file_field, data, filename=name, content_type="text/plain")
        async with self.session.post(
            self.emu.base_url + UPLOAD, data=form, headers=self.headers(UPLOAD)
        ) as resp:
            return resp.status, await resp.json()

    async def upload_id(self, **kw) -> str:
        status, body = await self.upload(**kw)
        assert status == 200, body
        return body["data"]["translateId"]

    async def result(self, tid: str) -> dict:
        status, body = await self.get(f"/api/v1/translate-result/{tid}")
        assert status == 200, body
        return body["data"]


def downloads_path(*ids: str) -> str:
    return "/api/v1/downloads?ids=" + quote(json.dumps(list(ids), separators=(",", ":")), safe="")


def code_of(body: dict) -> int:
    assert body["status"] == "failure"
    return body["data"]["code"]


@pytest.fixture
async def emu():
    async with RozettaEmulator() as emulator:
        yield emulator


@pytest.fixture
def call(session, emu):
    return Caller(session, emu)


# --------------------------------------------------------------------------- authentication


async def test_signed_request_is_accepted_and_header_names_are_case_insensitive(call, emu):
    status, body = await call.get(ALL)
    assert (status, body) == (200, {"status": "success", "data": []})
    headers = {k.lower(): v for k, v in call.headers(ALL).items()}
    headers["signature"] = headers["signature"].upper()
    assert (await call.get(ALL, headers=headers))[0] == 200
    (first, second) = emu.requests
    assert first.headers["accesskey"] == "rz-access" and first.nonce == "2"
    assert second.code is None and emu.last_nonce == {"rz-access": 3}


@pytest.mark.parametrize("missing", ["accessKey", "nonce", "signature"])
async def test_missing_auth_header(call, missing):
    headers = call.headers(ALL)
    del headers[missing]
    status, body = await call.get(ALL, headers=headers)
    assert (status, code_of(body)) == (400, 40200)


async def test_unknown_key_and_bad_signature(session, emu):
    status, body = await Caller(session, emu, access="nobody").get(ALL)
    assert (status, code_of(body)) == (401, 40002)
    status, body = await Caller(session, emu, secret="wrong").get(ALL)
    assert (status, code_of(body)) == (401, 40006)
    assert body["data"]["message"] == "The signature is incorrect."
    assert emu.last_nonce == {}  # refused requests burn no nonce


async def test_the_query_is_signed_decoded_and_the_encoded_form_only_behind_a_flag(session):
    path = downloads_path("nope")
    for flag, code in ((False, 40006), (True, 40203)):
        async with RozettaEmulator(accept_encoded_signature=flag) as emu:
            caller = Caller(session, emu)
            _, body = await caller.get(path, sign_as=path)  # signed still percent-encoded
            assert code_of(body) == code
            _, body = await caller.get(path)  # signed decoded, as the samples do
            assert code_of(body) == 40203  # past authentication: the id is unknown


async def test_nonce_rules(call, emu):
    assert (await call.get(ALL, nonce=100))[0] == 200
    for nonce, status, code in (
        (100, 401, 40005),  # equal
        (99, 401, 40005),  # lower
        (9_223_372_036_854_775_808, 401, 40008),  # above the documented maximum
    ):
        got, body = await call.get(ALL, nonce=nonce)
        assert (got, code_of(body)) == (status, code)
    headers = call.headers(ALL, nonce=101)
    headers["nonce"] = "1e9"
    headers["signature"] = hmac.new(b"rz-secret", f"1e9{ALL}".encode(), "sha256").hexdigest()
    got, body = await call.get(ALL, headers=headers)
    assert code_of(body) == 40201
    assert (await call.get(ALL, nonce=9_223_372_036_854_775_807))[0] == 200
    assert [r.code for r in emu.requests] == [None, 40005, 40005, 40008, 40201, None]


async def test_nonces_are_tracked_per_access_key(session):
    keys = {"key-a": "secret-a", "key-b": "secret-b"}
    async with RozettaEmulator(keys=keys) as emu:
        a = Caller(session, emu, "key-a", "secret-a", nonce=1000)
        b = Caller(session, emu, "key-b", "secret-b", nonce=5)
        assert (await a.get(ALL))[0] == 200
        assert (await b.get(ALL))[0] == 200  # far below key-a's nonce: fine
        assert emu.last_nonce == {"key-a": 1001, "key-b": 6}


# --------------------------------------------------------------------------- upload checks


async def test_upload_records_fields_and_files(call, emu):
    tid = await call.upload_id(
        fields={
            "targetLangs": '["en","zh-CN"]',
            "fieldId": "1",
            "contractId": "rz-contract",
            "sourceLang": "ja",
        },
        files=(("日本語.txt", "こんにちは 世界".encode()), ("b.txt", b"x")),
    )
    (sent,) = emu.requests_for(UPLOAD)
    assert sent.operation == "file-translate" and sent.files[0][0] == "日本語.txt"
    assert sent.fields["targetLangs"] == '["en","zh-CN"]'
    data = await call.result(tid)
    assert data["langs"] == ["ja", "en", "zh-CN"] and data["fieldId"] == 1
    assert [(i["originalName"], i["lang"]) for i in data["items"]] == [
        ("日本語.txt", "en"),
        ("日本語.txt", "zh-CN"),
        ("b.txt", "en"),
        ("b.txt", "zh-CN"),
    ]
    assert data["items"][0]["wordCount"] == 2  # T-4OO: words
    assert data["items"][0]["detectedLang"] == "ja"
    assert set(data["items"][0]) == {
        "translateItemId",
        "lang",
        "wordCount",
        "detectedLang",
        "done",
        "originalName",
        "downloaded",
        "error",
        "errorCode",
        "errorMessage",
        "id",
    }


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"fieldId": "1", "contractId": "rz-contract"}, 40200),  # no targetLangs
        ({"targetLangs": "ja", "fieldId": "1", "contractId": "rz-contract"}, 40201),
        ({"targetLangs": "[]", "fieldId": "1", "contractId": "rz-contract"}, 40201),
        ({"targetLangs": '["xx"]', "fieldId": "1", "contractId": "rz-contract"}, 40301),
        ({"targetLangs": '["ja"]', "contractId": "rz-contract"}, 40200),  # no fieldId
        ({"targetLangs": '["ja"]', "fieldId": "7", "contractId": "rz-contract"}, 40202),
        ({"targetLangs": '["ja"]', "fieldId": "1", "contractId": "other"}, 40204),
        ({"targetLangs": '["ja"]', "fieldId": "1"}, 40200),  # contract required
        (
            {
                "targetLangs": '["ja"]',
                "fieldId": "1",
                "contractId": "rz-contract",
                "sourceLang": "ja",
            },
            40301,
        ),
    ],
)
async def test_upload_refusals(call, emu, fields, code):
    status, body = await call.upload(fields=fields)
    assert (status, code_of(body)) == (400, code)
    assert emu.translations == {}


async def test_upload_shape_refusals(call, session, emu):
    _, body = await call.upload(files=())
    assert code_of(body) == 40200
    _, body = await call.upload(file_field="file")  # not the documented field name
    assert code_of(body) == 40200
    async with session.post(
        emu.base_url + UPLOAD, json={"targetLangs": ["ja"]}, headers=call.headers(UPLOAD)
    ) as resp:
        assert code_of(await resp.json()) == 40202


async def test_contract_may_be_optional_and_fields_configurable(session):
    async with RozettaEmulator(require_contract=False, field_id={"1", "414"}) as emu:
        call = Caller(session, emu)
        await call.upload_id(fields={"targetLangs": '["ja"]', "fieldId": "414"})


# --------------------------------------------------------------------------- states (§5)


async def test_items_walk_done_false_to_true(session):
    async with RozettaEmulator(done_after_polls=3) as emu:
        call = Caller(session, emu)
        tid = await call.upload_id()
        states = [(await call.result(tid))["items"][0]["done"] for _ in range(4)]
        assert states == [False, False, True, True]
        tid2 = await call.upload_id()
        (await call.get(ALL), await call.get(ALL))  # /all polls every pending item
        data = await call.result(tid2)
        assert data["done"] and data["items"][0]["done"]


async def test_finish_and_top_level_done(call, emu):
    tid = await call.upload_id(files=(("a.txt", b"one"), ("b.txt", b"two")))
    items = emu.translations[tid].items
    emu.finish(items[0].id)
    data = await call.result(tid)
    assert [i["done"] for i in data["items"]] == [True, False] and data["done"] is False
    emu.finish(items[1].id, error_code=40102)
    data = await call.result(tid)
    assert data["done"] is True
    assert (data["items"][1]["error"], data["items"][1]["errorCode"]) == (True, 40102)
    assert data["items"][1]["errorMessage"] == "Translation failed (TTT)"


async def test_done_at_once(session):
    async with RozettaEmulator(done_after_polls=0) as emu:
        call = Caller(session, emu)
        tid = await call.upload_id()
        assert (await call.result(tid))["items"][0]["done"] is True


async def test_item_error_injection_by_name(session):
    async with RozettaEmulator(done_after_polls=1, error_done=True) as emu:
        call = Caller(session, emu)
        emu.faults.item_error("bad.txt", code=40300, message="Unable to detect text language")
        tid = await call.upload_id(files=(("bad.txt", b"x"), ("good.txt", b"y")))
        bad, good = (await call.result(tid))["items"]
        assert (bad["error"], bad["done"], bad["errorCode"]) == (True, True, 40300)
        assert (good["error"], good["done"], good["errorCode"]) == (False, True, None)


async def test_translations_of_another_key_are_not_found(session):
    async with RozettaEmulator(keys={"a": "sa", "b": "sb"}, contract_id=None) as emu:
        a, b = Caller(session, emu, "a", "sa"), Caller(session, emu, "b", "sb")
        tid = await a.upload_id(fields={"targetLangs": '["ja"]', "fieldId": "1"})
        _, body = await b.get(f"/api/v1/translate-result/{tid}")
        assert code_of(body) == 40203
        assert (await b.get(ALL))[1]["data"] == []


async def test_history_makes_all_heavy(session):
    async with RozettaEmulator(history=100, created_at_object=True) as emu:
        call = Caller(session, emu)
        status, body = await call.get(ALL)
        assert status == 200 and len(body["data"]) == 100
        first = body["data"][0]
        assert first["createdAt"] == {} and first["done"] is True
        assert first["items"][0]["downloaded"] is True


async def test_t3mt_counts_characters(session):
    async with RozettaEmulator(engine="t3mt") as emu:
        call = Caller(session, emu)
        tid = await call.upload_id(files=(("a.txt", "こんにちは 世界".encode()),))
        assert (await call.result(tid))["items"][0]["wordCount"] == 7


# --------------------------------------------------------------------------- downloads (§3.4)


async def test_download_zip(session):
    async with RozettaEmulator(done_after_polls=1) as emu:
        call = Caller(session, emu)
        tid = await call.upload_id(
            files=(("notes.txt", b"one\ntwo\n"), ("pic.png", b"\x89PNG\r\n\x1a\n\x00"))
        )
        items = (await call.result(tid))["items"]
        status, ctype, body = await call.get_bytes(
            downloads_path(*(i["translateItemId"] for i in items))
        )
        assert (status, ctype) == (200, "application/zip")
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            assert archive.namelist() == ["notes.txt", "pic.png"]
            assert archive.read("notes.txt") == b"[ja] one\n[ja] two\n"
            assert archive.read("pic.png") == b"\x89PNG\r\n\x1a\n\x00"
        assert all(i["downloaded"] for i in (await call.result(tid))["items"])


async def test_download_refusals(session):
    now = [1_700_000_000.0]
    async with RozettaEmulator(done_after_polls=5, retention=3600, clock=lambda: now[0]) as emu:
        call = Caller(session, emu)
        tid = await call.upload_id()
        item = emu.translations[tid].items[0].id
        _, body = await call.get(downloads_path(item))
        assert code_of(body) == 40202  # not finished
        _, body = await call.get(f"/api/v1/downloads?ids={item}%2C{item}")  # legacy form
        assert code_of(body) == 40201
        _, body = await call.get("/api/v1/downloads")
        assert code_of(body) == 40200
        emu.finish(item)
        assert (await call.get_bytes(downloads_path(item)))[0] == 200
        now[0] += 3601
        status, body = await call.get(downloads_path(item))
        assert (status, code_of(body)) == (404, 40203)  # kept only so long


# --------------------------------------------------------------------------- faults


async def test_faults_answer_before_authentication(call, emu):
    emu.faults.http("*", status=502, times=2)
    emu.faults.code("translate-result/all", 40100)
    emu.faults.malformed("translate-result/all")
    assert (await call.get_bytes(ALL))[0] == 502
    assert (await call.get_bytes(ALL))[0] == 502
    status, ctype, body = await call.get_bytes(ALL)
    assert (status, ctype, body) == (200, "application/json", b"<html>upstream error</html>")
    _, body = await call.get(ALL)
    assert code_of(body) == 40100
    assert emu.last_nonce == {}  # none of them reached the service
    assert (await call.get(ALL))[0] == 200
    assert [r.status for r in emu.requests_for("translate-result/all")] == [
        502,
        502,
        200,
        400,
        200,
    ]


async def test_fault_clear(call, emu):
    emu.faults.http("*", status=500, times=3)
    emu.faults.item_error("a.txt")
    emu.faults.clear()
    assert (await call.get(ALL))[0] == 200
