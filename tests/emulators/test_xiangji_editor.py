"""The stand-in refinement editors (/image-editor/, /koutu/) over real HTTP; no browser."""

from __future__ import annotations

import hashlib
import io
import time

import pytest
from PIL import Image

from emulators.xiangji import XiangjiEmulator
from providers.xiangji import XiangjiClient, XiangjiKeys

KEYS = XiangjiKeys("xj-user", "xj-img", "xj-text", "xj-matting")


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def signed(commit_time: int, *, aigc: str = "xj-aigc", text: str = "xj-text") -> dict[str, str]:
    """Hash parameters as a host computes them server-side (seed part 十)."""
    return {
        "CommitTime": str(commit_time),
        "AigcKey": aigc,
        "AigcKeySign": md5(f"{commit_time}_xj-user_{aigc}"),
        "TextTransKey": text,
        "TextTransSign": md5(f"{commit_time}_xj-user_{text}"),
    }


@pytest.fixture
async def emu():
    async with XiangjiEmulator(fetch_sources=False) as emulator:
        yield emulator


def make_client(session, emu, **kw) -> XiangjiClient:
    urls = {"api_url": emu.api_url, "upload_url": emu.upload_url, "account_url": emu.account_url}
    return XiangjiClient(session, KEYS, **urls, **kw)


@pytest.fixture
def client(session, emu):
    return make_client(session, emu)


async def translated(client, emu, name: str = "shoe") -> str:
    return (await client.get_image_translate(emu.sample_url(name), "CHS", "KOR")).request_id


async def cutout(client, emu) -> str:
    return (await client.get_image_matting(emu.sample_url("logo"))).request_id


async def post(session, emu, path: str, body) -> tuple[int, dict]:
    kw = {"data": body} if isinstance(body, str) else {"json": body}
    async with session.post(emu.base_url + path, **kw) as resp:
        assert resp.content_type == "application/json"
        return resp.status, await resp.json()


async def download(session, url: str) -> bytes:
    async with session.get(url) as resp:
        assert resp.status == 200 and resp.content_type == "image/png"
        data = await resp.read()
    assert Image.open(io.BytesIO(data)).format == "PNG"
    return data


# --------------------------------------------------------------------------- pages


@pytest.mark.parametrize(
    ("path", "request_name", "result_name"),
    [
        ("/image-editor/", "XJ_IMAGE_EDITOR_REQUESTIDS", "XJ_IMAGE_EDITOR_URL"),
        ("/koutu/", "XJ_KOUTU_REQUESTIDS", "XJ_KOUTU_RESULT"),
    ],
)
async def test_pages_are_self_contained_html_speaking_their_messages(
    session, emu, path, request_name, result_name
):
    async with session.get(emu.base_url + path) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        assert resp.headers["Cache-Control"] == "no-store"
        html = await resp.text()
    assert request_name in html and result_name in html
    assert "Xiangji editor (stand-in)" in html
    for hook in (
        'id="xj-status"',
        'id="xj-save"',
        'id="xj-lang"',
        "event.source !== window.parent",
    ):
        assert hook in html
    assert "./api/open" in html and "./api/save" in html
    assert "http://" not in html and "https://" not in html  # no external resources
    async with session.get(emu.base_url + path.rstrip("/"), allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"] == path


# --------------------------------------------------------------------------- open


async def test_open_with_valid_signs_returns_the_api_result_images(client, emu, session):
    a, b = await translated(client, emu, "a"), await translated(client, emu, "b")
    now = int(time.time())
    params = {"lang": "KOR", **signed(now)}
    params["AigcKeySign"] = params["AigcKeySign"].upper()  # upper-case hex is accepted
    status, body = await post(
        session, emu, "/image-editor/api/open", {"requestIds": [a, b, a], "params": params}
    )
    assert status == 200
    assert body == {"images": {a: f"{emu.base_url}/i/{a}/f.png", b: f"{emu.base_url}/i/{b}/f.png"}}
    first, second = [await download(session, url) for url in body["images"].values()]
    assert first != second
    (opened,) = emu.editor_opens
    assert opened["editor"] == "image-editor" and opened["kind"] == "translate"
    assert opened["request_ids"] == [a, b] and opened["lang"] == "KOR"
    assert opened["aigc"] and opened["text"]


async def test_open_unsigned_and_cutout(client, emu, session):
    rid = await translated(client, emu)
    status, body = await post(session, emu, "/image-editor/api/open", {"requestIds": [rid]})
    assert status == 200 and list(body["images"]) == [rid]
    assert emu.editor_opens[-1]["lang"] is None and not emu.editor_opens[-1]["aigc"]
    cut = await cutout(client, emu)
    status, body = await post(
        session, emu, "/koutu/api/open", {"requestIds": [cut], "params": {"lang": "ENG"}}
    )
    assert status == 200 and body["images"] == {cut: f"{emu.base_url}/i/{cut}/c.png"}
    await download(session, body["images"][cut])
    assert emu.editor_opens[-1]["kind"] == "matting"


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"AigcKeySign": "0" * 32}, 403, "AigcKeySign does not match"),
        ({"TextTransSign": "0" * 32}, 403, "TextTransSign does not match"),
        ({"AigcKey": "someone-else"}, 403, "AigcKey is not this account's key"),
        ({"AigcKeySign": None}, 400, "AigcKey was given without AigcKeySign"),
        ({"TextTransKey": None}, 400, "TextTransSign was given without TextTransKey"),
        ({"CommitTime": None}, 400, "CommitTime is required"),
        ({"CommitTime": "soon"}, 400, "CommitTime must be a unix time"),
        ({"lang": "FRA"}, 400, "unsupported editor language 'FRA'"),
    ],
)
async def test_open_refuses_bad_hash_params(client, emu, session, change, status, message):
    rid = await translated(client, emu)
    params = {"lang": "KOR", **signed(int(time.time()))}
    for name, value in change.items():
        if value is None:
            del params[name]
        else:
            params[name] = value
    got, body = await post(
        session, emu, "/image-editor/api/open", {"requestIds": [rid], "params": params}
    )
    assert (got, list(body)) == (status, ["error"])
    assert message in body["error"]
    assert "xj-user" not in body["error"] and "xj-aigc" not in body["error"]
    assert emu.editor_opens == []


async def test_open_refuses_bad_ids(client, emu, session):
    rid, cut = await translated(client, emu), await cutout(client, emu)
    (pending,) = emu.seed_pending(1)

    async def refused(path: str, body) -> str:
        status, answer = await post(session, emu, path, body)
        assert status == 400, answer
        return answer["error"]

    editor, koutu = "/image-editor/api/open", "/koutu/api/open"
    assert await refused(editor, {"requestIds": [rid, "0123456789abcdef"]}) == (
        "unknown request id '0123456789abcdef'"
    )
    assert f"request id {cut!r} is a cutout (matting) job" in await refused(
        editor, {"requestIds": [cut]}
    )
    assert "is an image translation job, not a cutout" in await refused(
        koutu, {"requestIds": [rid]}
    )
    assert await refused(koutu, {"requestIds": [cut, cut]}) == (
        "the cutout editor refines one image at a time"
    )
    assert "still being processed" in await refused(editor, {"requestIds": [pending]})
    for ids in ([], "abc", [1], [""], None):
        assert "requestIds must be a non-empty list" in await refused(editor, {"requestIds": ids})
    assert "params must be an object" in await refused(
        editor, {"requestIds": [rid], "params": {"lang": 1}}
    )
    assert await refused(editor, "{not json") == "the request body must be a JSON object"
    assert await refused(editor, "[1, 2]") == "the request body must be a JSON object"
    assert emu.editor_opens == []


async def test_open_refuses_stale_commit_time_and_expired_results(session):
    now = [1_700_000_000.0]
    async with XiangjiEmulator(
        fetch_sources=False, max_skew=300, result_ttl=3600, clock=lambda: now[0]
    ) as emu:
        client = make_client(session, emu, clock=lambda: now[0])
        rid = await translated(client, emu)
        path, body = "/image-editor/api/open", {"requestIds": [rid]}
        status, answer = await post(session, emu, path, {**body, "params": signed(1_699_999_000)})
        assert status == 403 and "CommitTime is 1000 s away" in answer["error"]
        status, _ = await post(session, emu, path, {**body, "params": signed(1_699_999_800)})
        assert status == 200
        now[0] += 3601
        status, answer = await post(session, emu, path, {**body, "params": signed(int(now[0]))})
        assert status == 400 and answer["error"] == f"request id {rid!r} has expired"


# --------------------------------------------------------------------------- save


async def test_save_gives_a_new_refined_image_each_time(client, emu, session):
    rid, other = await translated(client, emu), await translated(client, emu, "other")
    refined_url = f"{emu.base_url}/i/{rid}/r1.png"
    async with session.get(refined_url) as resp:
        assert resp.status == 404  # nothing saved yet
    status, answer = await post(session, emu, "/image-editor/api/save", {"requestId": rid})
    assert (
        status == 400
        and answer["error"] == f"request id {rid!r} was not opened in the image editor"
    )

    params = {"lang": "KOR", **signed(int(time.time()))}
    opened = {"requestIds": [rid, other], "params": params}
    assert (await post(session, emu, "/image-editor/api/open", opened))[0] == 200
    original = await download(session, f"{emu.base_url}/i/{rid}/f.png")
    urls = []
    for _ in range(2):
        status, answer = await post(
            session, emu, "/image-editor/api/save", {"requestId": rid, "params": params}
        )
        assert status == 200 and list(answer) == ["url"]
        urls.append(answer["url"])
    assert urls == [f"{emu.base_url}/i/{rid}/r1.png", f"{emu.base_url}/i/{rid}/r2.png"]
    first, second = [await download(session, url) for url in urls]
    assert len({original, first, second}) == 3
    assert Image.open(io.BytesIO(first)).size == Image.open(io.BytesIO(original)).size
    assert [(s["request_id"], s["n"], s["url"], s["kind"]) for s in emu.editor_saves] == [
        (rid, 1, urls[0], "translate"),
        (rid, 2, urls[1], "translate"),
    ]
    async with session.get(f"{emu.base_url}/i/{rid}/r3.png") as resp:
        assert resp.status == 404

    status, answer = await post(session, emu, "/koutu/api/save", {"requestId": rid})
    assert status == 400 and "was not opened in the cutout editor" in answer["error"]
    for bad in ({}, {"requestId": 7}, {"requestId": rid, "params": []}):
        status, answer = await post(session, emu, "/image-editor/api/save", bad)
        assert status == 400 and answer["error"]


async def test_save_cutout(client, emu, session):
    cut = await cutout(client, emu)
    assert (await post(session, emu, "/koutu/api/open", {"requestIds": [cut]}))[0] == 200
    status, answer = await post(session, emu, "/koutu/api/save", {"requestId": cut})
    assert status == 200 and answer["url"] == f"{emu.base_url}/i/{cut}/r1.png"
    refined = await download(session, answer["url"])
    assert refined != await download(session, f"{emu.base_url}/i/{cut}/c.png")
    assert emu.editor_saves[-1]["editor"] == "koutu"


async def test_refined_images_without_rendering(session):
    async with XiangjiEmulator(render=False) as emu:
        client = make_client(session, emu)
        rid = await translated(client, emu)
        await post(session, emu, "/image-editor/api/open", {"requestIds": [rid]})
        _, answer = await post(session, emu, "/image-editor/api/save", {"requestId": rid})
        refined = await download(session, answer["url"])
        assert refined != await download(session, f"{emu.base_url}/i/{rid}/f.png")
