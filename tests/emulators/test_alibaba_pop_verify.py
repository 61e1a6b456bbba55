"""The emulators' POP signature verifier against the worked examples of alibaba-mt.md §2."""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import time

import pytest

from emulators.alibaba_pop_verify import (
    EMPTY_SHA256,
    PopRefusal,
    PopVerifier,
    canonical_request_v3,
    parse_authorization,
    sha256_hex,
    string_to_sign_v2,
    string_to_sign_v3,
)

T0 = float(calendar.timegm(time.strptime("2024-01-01T00:00:00Z", "%Y-%m-%dT%H:%M:%SZ")))
NONCE = "3ee8c1b883d344afa94f4e0ad82fd6cf"
TASK = "0586df512c8b4bb382d7d9a6a01b5854"
HOST = "mt.cn-hangzhou.aliyuncs.com"
SIGNED_A = "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
SIG_A = "d5cdb249525d8aa72664f9bd9fa0e242d9f782508be7a7808ad71d4b96c31002"
BODY_B = (
    b"ClientToken=tok-1&FileUrl=http%3A%2F%2Fexample.com%2Fa.docx"
    b"&SourceLanguage=en&TargetLanguage=zh"
)
SIG_B = "07672d9330132357d298f3bfc651d6bcb598133fd1011002f4b97bbb30890e01"
SIG_C = "361a4607699e095121eab110f665a8b386d434c8d62a1ea2dc1460da8c79a99a"
V2_QUERY = (
    "Action=GetDocTranslateTask&Format=json&Version=2018-10-12&Timestamp=2024-01-01T00%3A00%3A00Z"
    f"&SignatureNonce={NONCE}&TaskId={TASK}&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0"
    "&AccessKeyId=testid&Signature=Z8bhU%2BLH2tiIdA7ugDPz1oiv3uk%3D"
)


def verifier(**kw) -> PopVerifier:
    return PopVerifier({"testid": "testsecret"}, clock=lambda: T0, **kw)


def base_headers(action: str, body: bytes = b"") -> dict[str, str]:
    return {
        "host": HOST,
        "x-acs-action": action,
        "x-acs-version": "2018-10-12",
        "x-acs-date": "2024-01-01T00:00:00Z",
        "x-acs-signature-nonce": NONCE,
        "x-acs-content-sha256": sha256_hex(body),
    }


def example_a() -> dict[str, str]:
    headers = base_headers("GetDocTranslateTask")
    headers["Authorization"] = (
        f"ACS3-HMAC-SHA256 Credential=testid,SignedHeaders={SIGNED_A},Signature={SIG_A}"
    )
    return headers


def example_b() -> dict[str, str]:
    headers = base_headers("CreateDocTranslateTask", BODY_B)
    headers["content-type"] = "application/x-www-form-urlencoded"
    headers["Authorization"] = (
        "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=content-type;"
        + SIGNED_A
        + f",Signature={SIG_B}"
    )
    return headers


def example_c() -> dict[str, str]:
    headers = base_headers("GetDocTranslateTask")
    headers.update(
        {
            "Accept-Encoding": "identity",
            "host": "127.0.0.1:41463",
            "user-agent": "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2",
            "accept": "application/json",
            "x-acs-credentials-provider": "static_ak",
        }
    )
    signed = (
        "accept;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;"
        "x-acs-date;x-acs-signature-nonce;x-acs-version"
    )
    headers["Authorization"] = (
        f"ACS3-HMAC-SHA256 Credential=testid,SignedHeaders={signed},Signature={SIG_C}"
    )
    return headers


def refusal(call) -> PopRefusal:
    with pytest.raises(PopRefusal) as caught:
        call()
    return caught.value


# --------------------------------------------------------------------------- known answers


def test_example_a_canonical_request_and_string_to_sign():
    headers = example_a()
    canonical = canonical_request_v3(
        "GET", "/", f"TaskId={TASK}", headers, SIGNED_A.split(";"), EMPTY_SHA256
    )
    assert canonical == (
        f"GET\n/\nTaskId={TASK}\nhost:{HOST}\nx-acs-action:GetDocTranslateTask\n"
        f"x-acs-content-sha256:{EMPTY_SHA256}\nx-acs-date:2024-01-01T00:00:00Z\n"
        f"x-acs-signature-nonce:{NONCE}\nx-acs-version:2018-10-12\n\n{SIGNED_A}\n{EMPTY_SHA256}"
    )
    assert string_to_sign_v3(canonical) == (
        "ACS3-HMAC-SHA256\n23c77aeb6835af3fc086f249c6f52c4739180830ee7a413eac56ecc540b2836e"
    )


def test_example_a_verifies():
    got = verifier().verify("GET", "/", f"TaskId={TASK}", example_a())
    assert (got.action, got.version, got.access_key_id, got.scheme) == (
        "GetDocTranslateTask",
        "2018-10-12",
        "testid",
        "v3",
    )
    assert got.params == {"TaskId": TASK}


def test_example_b_form_body():
    headers = example_b()
    assert headers["x-acs-content-sha256"] == (
        "6f6c46076af279f16cbb52b056ccdf17dade046652e18491579c0f3b645d3949"
    )
    signed = parse_authorization(headers["Authorization"]).signed_headers
    canonical = canonical_request_v3("POST", "/", "", headers, signed, sha256_hex(BODY_B))
    assert string_to_sign_v3(canonical) == (
        "ACS3-HMAC-SHA256\n62b184a6df5352ba963d57e085d6405053a587a259c681e371ec3bdf431bbe91"
    )
    got = verifier().verify("POST", "/", "", headers, BODY_B)
    assert got.action == "CreateDocTranslateTask"
    assert got.params == {
        "ClientToken": "tok-1",
        "FileUrl": "http://example.com/a.docx",
        "SourceLanguage": "en",
        "TargetLanguage": "zh",
    }


def test_example_c_sdk_header_set_with_an_unsigned_extra_header():
    got = verifier().verify("GET", "/", {"TaskId": TASK}, example_c())
    assert got.action == "GetDocTranslateTask" and got.scheme == "v3"


def test_v2_example():
    pairs = [tuple(p.split("=", 1)) for p in V2_QUERY.split("&")]
    decoded = [(k, v.replace("%3A", ":").replace("%2B", "+").replace("%3D", "=")) for k, v in pairs]
    assert string_to_sign_v2("GET", "/", decoded) == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DGetDocTranslateTask%26Format%3Djson"
        "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b883d344afa94f4e0ad82fd6cf"
        "%26SignatureVersion%3D1.0%26TaskId%3D0586df512c8b4bb382d7d9a6a01b5854"
        "%26Timestamp%3D2024-01-01T00%253A00%253A00Z%26Version%3D2018-10-12"
    )
    got = verifier().verify("GET", "/", V2_QUERY, {"host": HOST})
    assert (got.action, got.version, got.access_key_id, got.scheme) == (
        "GetDocTranslateTask",
        "2018-10-12",
        "testid",
        "v2",
    )
    assert got.params == {"TaskId": TASK}


def test_v2_form_body_parameters_are_signed():
    body = b"FileUrl=http%3A%2F%2Fa.example%2Fx.txt&SourceLanguage=en&TargetLanguage=ja"
    query = {
        "Action": "CreateDocTranslateTask",
        "Version": "2018-10-12",
        "Format": "json",
        "AccessKeyId": "testid",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": "n-1",
        "Timestamp": "2024-01-01T00:00:00Z",
    }
    form = [("FileUrl", "http://a.example/x.txt"), ("SourceLanguage", "en")]
    form.append(("TargetLanguage", "ja"))
    to_sign = string_to_sign_v2("POST", "/", [*query.items(), *form])
    digest = hmac.new(b"testsecret&", to_sign.encode(), hashlib.sha1).digest()
    query["Signature"] = base64.b64encode(digest).decode()
    headers = {"content-type": "application/x-www-form-urlencoded"}
    got = verifier().verify("POST", "/", query, headers, body)
    assert got.params["FileUrl"] == "http://a.example/x.txt"
    tampered = body.replace(b"ja", b"ko")
    assert refusal(lambda: verifier().verify("POST", "/", query, headers, tampered)).code == (
        "SignatureDoesNotMatch"
    )


def test_query_plus_is_a_space_and_reencoded_as_pct20():
    headers = base_headers("GetDocTranslateTask")
    canonical_plus = canonical_request_v3("GET", "/", "Q=a+b:/c", headers, ["host"], EMPTY_SHA256)
    canonical_pct = canonical_request_v3("GET", "/", "Q=a%20b%3A%2Fc", headers, ["host"], "")
    assert canonical_plus.split("\n")[2] == canonical_pct.split("\n")[2] == "Q=a%20b%3A%2Fc"


# --------------------------------------------------------------------------- refusals


def test_tampered_body():
    headers = example_b()
    body = BODY_B.replace(b"zh", b"ja")
    assert refusal(lambda: verifier().verify("POST", "/", "", headers, body)).code == (
        "SignatureDoesNotMatch"
    )
    headers["x-acs-content-sha256"] = sha256_hex(body)  # hash updated, signature not
    got = refusal(lambda: verifier().verify("POST", "/", "", headers, body))
    assert (got.status, got.code) == (400, "SignatureDoesNotMatch")


def test_tampered_query_and_method():
    assert refusal(lambda: verifier().verify("GET", "/", "TaskId=x", example_a())).code == (
        "SignatureDoesNotMatch"
    )
    call = lambda: verifier().verify("POST", "/", f"TaskId={TASK}", example_a())  # noqa: E731
    assert refusal(call).code == "SignatureDoesNotMatch"


def test_wrong_secret_and_unknown_key():
    wrong = PopVerifier({"testid": "other"}, clock=lambda: T0)
    got = refusal(lambda: wrong.verify("GET", "/", f"TaskId={TASK}", example_a()))
    assert (got.status, got.code) == (400, "SignatureDoesNotMatch")
    unknown = PopVerifier({}, clock=lambda: T0)
    got = refusal(lambda: unknown.verify("GET", "/", f"TaskId={TASK}", example_a()))
    assert (got.status, got.code) == (404, "InvalidAccessKeyId.NotFound")
    got = refusal(lambda: unknown.verify("GET", "/", V2_QUERY, {}))
    assert (got.status, got.code) == (404, "InvalidAccessKeyId.NotFound")


def test_v2_wrong_secret():
    wrong = PopVerifier(lambda key: "nope" if key == "testid" else None, clock=lambda: T0)
    assert refusal(lambda: wrong.verify("GET", "/", V2_QUERY, {})).code == ("SignatureDoesNotMatch")


def test_x_acs_header_not_signed():
    headers = example_a()
    headers["x-acs-security-token"] = "sts"
    got = refusal(lambda: verifier().verify("GET", "/", f"TaskId={TASK}", headers))
    assert (got.status, got.code) == (400, "IncompleteSignature")
    assert "x-acs-security-token" in got.message


def test_content_type_must_be_signed_when_there_is_a_body():
    headers = example_b()
    auth = headers["Authorization"].replace("content-type;", "")
    headers["Authorization"] = auth
    got = refusal(lambda: verifier().verify("POST", "/", "", headers, BODY_B))
    assert got.code == "IncompleteSignature" and "content-type" in got.message


def test_unsigned_content_type_on_empty_body_is_tolerated():
    headers = example_a()
    headers["Content-Type"] = "application/octet-stream"  # the SDK's aiohttp transport does this
    assert verifier().verify("GET", "/", f"TaskId={TASK}", headers).scheme == "v3"


def test_host_must_be_signed():
    headers = example_a()
    headers["Authorization"] = headers["Authorization"].replace("=host;", "=")
    got = refusal(lambda: verifier().verify("GET", "/", f"TaskId={TASK}", headers))
    assert got.code == "IncompleteSignature" and "host" in got.message


def test_malformed_or_missing_signature():
    headers = example_a()
    headers["Authorization"] = "ACS3-HMAC-SHA256 Credential=testid"
    assert refusal(lambda: verifier().verify("GET", "/", "", headers)).code == (
        "IncompleteSignature"
    )
    headers["Authorization"] = "acs testid:abc"
    assert refusal(lambda: verifier().verify("GET", "/", "", headers)).code == (
        "IncompleteSignature"
    )
    assert refusal(lambda: verifier().verify("GET", "/", "TaskId=1", {})).code == (
        "IncompleteSignature"
    )


def test_replayed_nonce():
    check = verifier()
    check.verify("GET", "/", f"TaskId={TASK}", example_a())
    got = refusal(lambda: check.verify("GET", "/", f"TaskId={TASK}", example_a()))
    assert (got.status, got.code) == (400, "SignatureNonceUsed")
    got = refusal(lambda: check.verify("GET", "/", V2_QUERY, {}))
    assert got.code == "SignatureNonceUsed"  # same key, same nonce, other scheme


def test_nonce_forgotten_after_window_and_not_burnt_by_a_forgery():
    now = [T0]
    check = PopVerifier(
        {"testid": "testsecret"}, clock=lambda: now[0], max_skew=None, nonce_window=60
    )
    headers = example_a()
    forged = dict(headers, Authorization=headers["Authorization"][:-4] + "0000")
    refusal(lambda: check.verify("GET", "/", f"TaskId={TASK}", forged))
    check.verify("GET", "/", f"TaskId={TASK}", headers)  # the forgery did not burn it
    now[0] += 61
    check.verify("GET", "/", f"TaskId={TASK}", headers)


def test_date_skew():
    late = PopVerifier({"testid": "testsecret"}, clock=lambda: T0 + 901)
    got = refusal(lambda: late.verify("GET", "/", f"TaskId={TASK}", example_a()))
    assert (got.status, got.code) == (400, "InvalidTimeStamp.Expired")
    early = PopVerifier({"testid": "testsecret"}, clock=lambda: T0 - 901)
    assert refusal(lambda: early.verify("GET", "/", V2_QUERY, {})).code == (
        "InvalidTimeStamp.Expired"
    )
    lenient = PopVerifier({"testid": "testsecret"}, clock=lambda: T0 + 899)
    lenient.verify("GET", "/", f"TaskId={TASK}", example_a())
    off = PopVerifier({"testid": "testsecret"}, clock=lambda: T0 + 10**6, max_skew=None)
    off.verify("GET", "/", f"TaskId={TASK}", example_a())


def test_malformed_date():
    headers = example_a()
    headers["x-acs-date"] = "2024-01-01 00:00:00"
    assert refusal(lambda: verifier().verify("GET", "/", "", headers)).code == (
        "InvalidTimeStamp.Format"
    )
