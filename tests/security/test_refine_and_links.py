"""Finding 8 (issue 16), Refine and signed links.

- A Refine link authorises one result for one image: the saved URL must be the editor's
  result for that image's Xiangji request id (the documented message fields
  ``{name, url, requestId, all}``, and a URL that carries the request id as the
  editor's results do), not any URL on an allowed host — nor another task's result.
- A genuine signature over an absurd field (a 5,000-digit expiry, digits that are not
  ASCII) is refused like any invalid link, 403, never a 500.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from bot.core.links import Links
from tests.refine_support import refine_link


def refined_uploads(slack) -> list:
    return [f for f in slack.files.values() if "-refined-" in f.name]


async def post(tolk, link: str, message: dict) -> tuple[int, dict]:
    async with tolk.session.post(link, json=message) as resp:
        return resp.status, await resp.json()


async def request_id_of(tolk, link: str) -> str:
    task_id, index = urlsplit(link).path.split("/")[2:4]
    task = await tolk.services.store.get(task_id)
    return task.items[int(index)].provider_id


async def saved_in_editor(tolk, xiangji, request_id: str, editor: str = "image-editor") -> str:
    """What the stand-in editor answers a save with: the refined URL for the request id."""
    async with tolk.session.post(
        f"{xiangji.base_url}/{editor}/api/open", json={"requestIds": [request_id], "params": {}}
    ) as resp:
        assert resp.status == 200, await resp.text()
    async with tolk.session.post(
        f"{xiangji.base_url}/{editor}/api/save", json={"requestId": request_id}
    ) as resp:
        return (await resp.json())["url"]


def message(url: str, request_id: str, **extra) -> dict:
    return {
        "name": "XJ_IMAGE_EDITOR_URL",
        "url": url,
        "requestId": request_id,
        "all": {request_id: url},
        **extra,
    }


async def test_refine_saves_only_the_editors_result_for_this_images_request_id(
    public_tolk, slack, xiangji
):
    link, _ = await refine_link(public_tolk, slack, f"zh>ko {xiangji.sample_url()}")
    rid = await request_id_of(public_tolk, link)
    # Another person's image, translated elsewhere: its result is on the same allowed host.
    other_link, _ = await refine_link(public_tolk, slack, f"zh>ja {xiangji.sample_url('b')}")
    other_rid = await request_id_of(public_tolk, other_link)
    other_result = await saved_in_editor(public_tolk, xiangji, other_rid)
    base = xiangji.base_url  # an allowed host (TOLK_ALLOWED_FILE_HOSTS)

    attacks = [
        # any file on an allowed host, claimed for this request id
        message(f"{base}/src/secret.png", rid),
        message(f"{base}/i/{other_rid}/f.png", rid),  # someone else's translation
        message(other_result, rid),  # someone else's refined image
        # the request id somewhere in the URL, but not as the editor puts it
        message(f"{base}/src/secret.png?{rid}", rid),
        message(f"{base}/src/secret.png#/{rid}/", rid),
        message(f"{base}/i/{rid}/../../src/secret.png", rid),
        message(f"{base}/i/{rid}/%2E%2E/%2E%2E/src/secret.png", rid),
        message(f"{base}/i/{rid}x/r1.png", rid),
        # the message's fields disagreeing about this image
        {**message(f"{base}/i/{rid}/r1.png", rid), "all": {rid: f"{base}/src/secret.png"}},
        {**message(f"{base}/src/secret.png", rid), "all": {rid: f"{base}/i/{rid}/r1.png"}},
        # another image's result, in a message about another request id
        message(other_result, other_rid),
        {**message(other_result, other_rid), "all": {other_rid: other_result, rid: other_result}},
    ]
    for attack in attacks:
        status, answer = await post(public_tolk, link, attack)
        assert status == 400, (attack, status, answer)
        assert "refined" in answer["error"] or "image" in answer["error"], answer
    await public_tolk.settle()
    assert refined_uploads(slack) == []

    # None of it spent the link: the editor's own result for this image goes through.
    refined = await saved_in_editor(public_tolk, xiangji, rid)
    assert rid in urlsplit(refined).path.split("/")
    status, answer = await post(public_tolk, link, message(refined, rid))
    assert (status, answer["status"]) == (202, "accepted"), answer
    await public_tolk.settle()
    (upload,) = refined_uploads(slack)
    assert upload.name.endswith(".png")


async def test_the_documented_all_map_alone_still_names_this_images_result(
    public_tolk, slack, xiangji
):
    """The editor's ``all`` maps every opened request id to its latest URL: the entry
    for this image is its result even when ``requestId`` names the image in view."""
    link, _ = await refine_link(public_tolk, slack, f"zh>ko {xiangji.sample_url()}")
    rid = await request_id_of(public_tolk, link)
    refined = await saved_in_editor(public_tolk, xiangji, rid)
    status, answer = await post(
        public_tolk, link, {"name": "XJ_IMAGE_EDITOR_URL", "all": {rid: refined}}
    )
    assert (status, answer["status"]) == (202, "accepted"), answer


async def test_cutout_results_are_tied_to_the_request_id_too(public_tolk, slack, xiangji):
    link, _ = await refine_link(public_tolk, slack, xiangji.sample_url("bag"), command="/cutout")
    rid = await request_id_of(public_tolk, link)
    foreign = {
        "name": "XJ_KOUTU_RESULT",
        "url": f"{xiangji.base_url}/src/other.png",
        "requestId": rid,
        "all": {rid: f"{xiangji.base_url}/src/other.png"},
    }
    assert (await post(public_tolk, link, foreign))[0] == 400
    refined = await saved_in_editor(public_tolk, xiangji, rid, editor="koutu")
    good = {"name": "XJ_KOUTU_RESULT", "url": refined, "requestId": rid, "all": {rid: refined}}
    assert (await post(public_tolk, link, good))[0] == 202


# --- signed links with absurd fields --------------------------------------------------------


HUGE = "9" * 5000  # past Python's 4,300-digit limit for int(str)


@pytest.mark.parametrize(
    "expires", [HUGE, "1" * 40, "²³⁴", "١٢٣٤٥٦٧٨٩٠", "+9999999999", " 9999999999"]
)
async def test_a_genuinely_signed_file_link_with_an_absurd_expiry_is_403(public_tolk, expires):
    links: Links = public_tolk.services.links
    signature = links._sign("file", "T0000", "0", expires, "a.txt")
    url = f"http://127.0.0.1:{public_tolk.port}/files/T0000/0/{expires}/{signature}/a.txt"
    assert not links.file_link_valid("T0000", "0", expires, signature, "a.txt")
    async with public_tolk.session.get(url) as resp:
        assert resp.status == 403, await resp.text()


@pytest.mark.parametrize(
    "field,value",
    [
        ("expires", HUGE),
        ("expires", "²³⁴"),
        ("index", HUGE),
        ("index", "²"),
        ("index", "١"),
        ("user", "U" * 5000),
        ("lang", "E" * 5000),
        ("task", "T" * 5000),
    ],
)
async def test_a_genuinely_signed_refine_link_with_an_absurd_field_is_403(
    public_tolk, field, value
):
    links: Links = public_tolk.services.links
    fields = {
        "task": "T0000",
        "index": "0",
        "user": "U0ALICE",
        "lang": "ENG",
        "expires": str(int(public_tolk.services.clock()) + 600),
    }
    fields[field] = value
    signature = links._sign(
        "refine",
        fields["task"],
        fields["index"],
        fields["user"],
        fields["lang"],
        fields["expires"],
    )
    assert not links.refine_link_valid(*fields.values(), signature)
    path = "/".join(fields.values())
    url = f"http://127.0.0.1:{public_tolk.port}/refine/{path}/{signature}"
    async with public_tolk.session.get(url) as resp:
        assert resp.status == 403, await resp.text()
    async with public_tolk.session.post(url, json={"name": "XJ_IMAGE_EDITOR_URL"}) as resp:
        assert resp.status == 403, await resp.text()


async def test_an_oversized_signature_is_refused_without_work(public_tolk):
    links: Links = public_tolk.services.links
    expires = str(int(public_tolk.services.clock()) + 600)
    assert not links.file_link_valid("T0000", "0", expires, "A" * 100_000, "a.txt")
    assert not links.refine_link_valid("T0000", "0", "U0ALICE", "ENG", expires, "A" * 100_000)
    assert not links.callback_valid("T0000", "A" * 100_000)


async def test_a_result_on_a_host_tolk_does_not_know_is_named_in_the_log_once(
    public_tolk, slack, xiangji, caplog
):
    """Issue 17 item 10: the operator learns which host to allow, once per host."""
    link, _ = await refine_link(public_tolk, slack, f"zh>ko {xiangji.sample_url()}")
    rid = await request_id_of(public_tolk, link)
    for _ in range(3):
        status, answer = await post(
            public_tolk, link, message(f"https://new-cdn.example.com/{rid}/r1.png", rid)
        )
        assert status == 400 and "host" in answer["error"]
    lines = [r.getMessage() for r in caplog.records if "new-cdn.example.com" in r.getMessage()]
    assert len(lines) == 1 and "TOLK_ALLOWED_FILE_HOSTS" in lines[0]
    assert refined_uploads(slack) == []
