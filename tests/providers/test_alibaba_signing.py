"""ACS3-HMAC-SHA256 against the worked examples of alibaba-mt.md §2.1."""

from providers.alibaba.signing import FORM, Credentials, encode_params, sha256_hex, sign_v3

CREDS = Credentials("testid", "testsecret")
COMMON = {
    "host": "mt.cn-hangzhou.aliyuncs.com",
    "version": "2018-10-12",
    "date": "2024-01-01T00:00:00Z",
    "nonce": "3ee8c1b883d344afa94f4e0ad82fd6cf",
}


def signature(headers: dict[str, str]) -> str:
    return headers["Authorization"].rsplit("Signature=", 1)[1]


def test_example_a_get_with_query() -> None:
    headers = sign_v3(
        CREDS,
        method="GET",
        action="GetDocTranslateTask",
        query={"TaskId": "0586df512c8b4bb382d7d9a6a01b5854"},
        **COMMON,
    )
    assert headers["Authorization"] == (
        "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-action;"
        "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
        "Signature=d5cdb249525d8aa72664f9bd9fa0e242d9f782508be7a7808ad71d4b96c31002"
    )


def test_example_b_post_form_body() -> None:
    body = encode_params(
        {
            "SourceLanguage": "en",
            "TargetLanguage": "zh",
            "FileUrl": "http://example.com/a.docx",
            "ClientToken": "tok-1",
        }
    ).encode()
    assert body == (
        b"ClientToken=tok-1&FileUrl=http%3A%2F%2Fexample.com%2Fa.docx"
        b"&SourceLanguage=en&TargetLanguage=zh"
    )
    headers = sign_v3(
        CREDS,
        method="POST",
        action="CreateDocTranslateTask",
        query={},
        body=body,
        content_type=FORM,
        **COMMON,
    )
    assert headers["x-acs-content-sha256"] == (
        "6f6c46076af279f16cbb52b056ccdf17dade046652e18491579c0f3b645d3949"
    )
    assert "SignedHeaders=content-type;host;x-acs-action;" in headers["Authorization"]
    assert signature(headers) == (
        "07672d9330132357d298f3bfc651d6bcb598133fd1011002f4b97bbb30890e01"
    )


def test_example_c_signs_the_extra_headers_the_sdk_sends() -> None:
    headers = sign_v3(
        CREDS,
        method="GET",
        action="GetDocTranslateTask",
        query={"TaskId": "0586df512c8b4bb382d7d9a6a01b5854"},
        extra_headers={
            "accept": "application/json",
            "user-agent": "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2",
            "x-acs-credentials-provider": "static_ak",
        },
        **{**COMMON, "host": "127.0.0.1:41463"},
    )
    assert "SignedHeaders=accept;host;user-agent;x-acs-action;" in headers["Authorization"]
    assert signature(headers) == (
        "361a4607699e095121eab110f665a8b386d434c8d62a1ea2dc1460da8c79a99a"
    )


def test_encoding_is_rfc3986() -> None:
    assert encode_params({"b": "a b~*", "a": "x/y:z"}) == "a=x%2Fy%3Az&b=a%20b~%2A"
    assert sha256_hex(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_credentials_do_not_show_in_repr() -> None:
    assert "testsecret" not in repr(CREDS) and "testid" not in repr(CREDS)
