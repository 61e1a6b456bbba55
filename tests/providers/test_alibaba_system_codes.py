"""Seed 000's image-task codes in both spellings, client ↔ emulator over loopback (issue 17,
item 6 and the emulator note).

Seed 000's error table names each code twice: 101 ``System.RequestTimeOut`` … 113
``System.AccountNotActivatedOrInArrears``. Which spelling the service sends is not
documented, so the emulator sends either — ``image_codes="system"`` for every image error,
or a ``System.*`` name in one scripted fault — and each must end the same in Tolk: the same
kind (transient, permanent, quota) and the same English explanation as its number, with the
code shown as Alibaba wrote it. The table below is copied from the seed, not from the
emulator or the wire, so neither can agree with itself by mistake.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from emulators.alibaba import AlibabaMTEmulator
from providers.alibaba.client import AlibabaMTClient
from providers.alibaba.signing import Credentials
from providers.alibaba.wire import describe
from providers.errors import ErrorKind, ProviderError

CREATE_IMAGE, GET_IMAGE = "CreateImageTranslateTask", "GetImageTranslateTask"
T, P, Q = ErrorKind.RETRYABLE, ErrorKind.PERMANENT, ErrorKind.QUOTA

#: Seed 000, 错误码: (number, name, the seed's English message, Tolk's kind).
SEED_000_CODES = [
    (101, "System.RequestTimeOut", "The request has timed out.", T),
    (102, "System.Error", "A system error occurred.", T),
    (
        103,
        "System.UrlDecodingError",
        "An error occurred while decoding the URL. Verify that the specified URL is encoded.",
        P,
    ),
    (104, "System.ParameterError", "Some required parameters are missing.", P),
    (105, "System.LanguageNotSupported", "The specified language pair is not supported.", P),
    (106, "System.LanguageDetectError", "An error occurred while detecting the language.", P),
    (107, "System.TranslateError", "An error occurred while translating.", T),
    (108, "System.StringTooLong", "The maximum length of the specified string is exceeded.", P),
    (110, "System.AccountNotActivated", "The account has not activated the service.", Q),
    (111, "System.SubServiceFailed", "Sub-account service failed.", T),
    (112, "System.TranslateServiceCallFailed", "Failed to call the translation service.", T),
    (
        113,
        "System.AccountNotActivatedOrInArrears",
        "The service is not activated or the account has an outstanding balance.",
        Q,
    ),
]
IDS = [name for _, name, _, _ in SEED_000_CODES]


@pytest.fixture
async def em() -> AsyncIterator[AlibabaMTEmulator]:
    async with AlibabaMTEmulator(image_pending_polls=0) as emulator:
        yield emulator


@pytest.fixture
def client(session, em) -> AlibabaMTClient:
    key, secret = next(iter(em.keys.items()))
    return AlibabaMTClient(session, Credentials(key, secret), endpoint=em.endpoint)


async def call(client: AlibabaMTClient, em: AlibabaMTEmulator, action: str) -> None:
    if action == CREATE_IMAGE:
        await client.create_image_translate_task([em.sample_image_url("a.png")], "zh", "en")
    else:
        await client.get_image_translate_task("no-such-task", 1)


async def failure(client: AlibabaMTClient, em: AlibabaMTEmulator, action: str) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        await call(client, em, action)
    return raised.value


@pytest.mark.parametrize("action", [CREATE_IMAGE, GET_IMAGE])
@pytest.mark.parametrize(("number", "name", "message", "kind"), SEED_000_CODES, ids=IDS)
async def test_each_system_code_ends_like_its_number(
    client, em, action, number, name, message, kind
):
    em.image_codes = "system"
    em.faults.code(action, str(number))
    status, body = await client._call(action, {"TaskId": "x"} if action == GET_IMAGE else {})
    assert status == 200 and body["Code"] == name and body["Message"] == message  # the wire

    em.faults.code(action, str(number))
    spelled = await failure(client, em, action)
    em.image_codes = "number"
    em.faults.code(action, str(number))
    numbered = await failure(client, em, action)

    assert (spelled.code, numbered.code) == (name, str(number))  # shown as Alibaba wrote it
    assert spelled.kind is numbered.kind is kind
    assert spelled.message == numbered.message  # the same English explanation
    assert spelled.message.isascii()  # English, with the seed's own words in it
    assert message.rstrip(".").lower() in spelled.message.lower()
    assert describe(name) == describe(str(number)) != ""  # a meaning of its own, not just the echo
    assert spelled.retryable is (kind is T)


@pytest.mark.parametrize(("number", "name", "message", "kind"), SEED_000_CODES, ids=IDS)
async def test_a_scripted_system_name_is_sent_whatever_the_switch(
    client, em, number, name, message, kind
):
    assert em.image_codes == "number"
    em.faults.code(GET_IMAGE, name)
    status, body = await client._call(GET_IMAGE, {"TaskId": "x"})
    assert (status, body["Code"], body["Message"]) == (200, name, message)
    em.faults.code(GET_IMAGE, str(number))  # and a number stays a number (an integer)
    assert (await client._call(GET_IMAGE, {"TaskId": "x"}))[1]["Code"] == number


async def test_the_emulators_own_refusals_follow_the_switch(client, em):
    em.image_codes = "system"
    unknown = await failure(client, em, GET_IMAGE)  # a task that does not exist: 104
    assert (unknown.code, unknown.kind) == ("System.ParameterError", P)
    with pytest.raises(ProviderError) as raised:  # Japanese is no image source: 105
        await client.create_image_translate_task([em.sample_image_url("a.png")], "ja", "en")
    assert (raised.value.code, raised.value.kind) == ("System.LanguageNotSupported", P)
    assert "language pair is not supported" in raised.value.message


@pytest.mark.parametrize(("number", "name", "message", "kind"), SEED_000_CODES, ids=IDS)
async def test_a_failed_image_spelled_by_name_is_explained_like_its_number(
    client, em, number, name, message, kind
):
    em.image_codes = "system"
    em.faults.image_item(1, str(number))
    urls = [em.sample_image_url("a.png"), em.sample_image_url("b.png")]
    task_id = await client.create_image_translate_task(urls, "zh", "en")
    _, raw = await client._call(GET_IMAGE, {"TaskId": task_id})
    sent = [e["errorCode"] for e in json.loads(raw["Data"]["ImageData"])]
    assert sent == ["200", name]  # a success stays "200", as in the seed's example
    result = await client.get_image_translate_task(task_id, 2)
    ok, failed = result.elements
    assert ok.success and not failed.success and failed.error_code == name
    assert describe(failed.error_code) == describe(str(number))


async def test_a_failed_image_given_by_name_is_sent_by_name_whatever_the_switch(client, em):
    assert em.image_codes == "number"
    em.faults.image_item(0, "System.TranslateError")
    task_id = await client.create_image_translate_task([em.sample_image_url("a.png")], "zh", "en")
    (element,) = (await client.get_image_translate_task(task_id, 1)).elements
    assert (element.success, element.error_code) == (False, "System.TranslateError")
    assert describe(element.error_code) == describe("107")


def test_the_switch_takes_only_the_two_spellings():
    with pytest.raises(ValueError):
        AlibabaMTEmulator(image_codes="names")  # type: ignore[arg-type]


# --- the same through Tolk: /translate-image … --provider alibaba -------------------------


@pytest.fixture
async def spelled_tolk(slack, xiangji, tmp_path) -> AsyncIterator[tuple[object, AlibabaMTEmulator]]:
    from tests.test_alibaba_e2e import alibaba_env, running

    async with AlibabaMTEmulator(doc_seconds=None, image_codes="system") as emulator:
        async for tolk in running(alibaba_env(slack, xiangji, emulator, tmp_path)):
            yield tolk, emulator


def thread_texts(slack) -> list[str]:
    parent = slack.messages("C0GENERAL")[-1]
    return [m["text"] for m in slack.thread("C0GENERAL", parent["ts"])]


async def test_through_tolk_a_system_timeout_is_tried_again(spelled_tolk, slack):
    tolk, em = spelled_tolk
    em.faults.code(GET_IMAGE, "System.RequestTimeOut", times=2)
    url = em.sample_image_url("p.png")
    await tolk.command("/translate-image", f"zh>en {url} --provider alibaba")
    await tolk.settle()
    assert len(em.requests_for(GET_IMAGE)) >= 3  # two timeouts, then the answer
    assert "1 image translated" in thread_texts(slack)[-1]


async def test_through_tolk_system_arrears_fail_in_english_and_raise_the_alert(spelled_tolk, slack):
    tolk, em = spelled_tolk
    em.faults.code(CREATE_IMAGE, "System.AccountNotActivatedOrInArrears")
    await tolk.command(
        "/translate-image", f"zh>en {em.sample_image_url('p.png')} --provider alibaba"
    )
    await tolk.settle()
    texts = thread_texts(slack)
    (failed,) = [t for t in texts if "failed" in t]
    assert "System.AccountNotActivatedOrInArrears" in failed
    assert "not activated or the account is in arrears" in failed
    (alert,) = [t for t in texts if "quota" in t]
    assert "Alibaba" in alert and "System.AccountNotActivatedOrInArrears" in alert


async def test_through_tolk_an_image_failed_by_name_is_listed_in_english(spelled_tolk, slack):
    tolk, em = spelled_tolk
    em.faults.image_item(1, "105")
    urls = [em.sample_image_url(f"q{i}.png") for i in range(2)]
    await tolk.command("/translate-image", f"zh>en {' '.join(urls)} --provider alibaba")
    await tolk.settle()
    final = thread_texts(slack)[-1]
    assert "1 of 2 translated" in final
    assert (
        "q1.png: error System.LanguageNotSupported — this language pair is not supported" in final
    )
