"""Stand-ins for Xiangji's browser refinement editors, served by :class:`XiangjiEmulator`.

The real editors (seed 002 parts 九–十一, the refinement editors; Xiangji spec,
'Refinement-iframe scheme') are pages a host embeds in an iframe:

    /image-editor/   image-translation refinement (``https://www.xiangjifanyi.com/image-editor/``)
    /koutu/          cutout refinement, one image at a time (``.../koutu/``)

The host posts ``{name: "XJ_IMAGE_EDITOR_REQUESTIDS" | "XJ_KOUTU_REQUESTIDS", requestIds}``
to the frame; each save posts back ``{name: "XJ_IMAGE_EDITOR_URL" | "XJ_KOUTU_RESULT", url,
requestId, all}``, where ``all`` maps every opened id to its latest URL (the API result URL
for images not edited). The stand-in page speaks exactly that, ignores messages whose
``event.source`` is not its parent window, and asks the emulator through two JSON routes:

    POST <editor>/api/open   {"requestIds": [...], "params": {<hash params>}}
                             -> 200 {"images": {id: url}} | 400/403 {"error": "..."}
    POST <editor>/api/save   {"requestId": "...", "params": {...}}
                             -> 200 {"url": "<base>/i/<id>/r<n>.png"} | 400 {"error": "..."}

``open`` checks what the real editor would: a non-empty list of id strings (the cutout
editor: exactly one); every id a finished job of the editor's kind (``translate`` or
``matting``), not expired; ``lang`` one of CHS CHT ENG JPN KOR ESP PTB; and for the image
editor the fragment's signatures — ``AigcKeySign = md5(CommitTime_UserKey_AigcKey)`` and
``TextTransSign = md5(CommitTime_UserKey_TextTransKey)``, each key only with its sign,
``CommitTime`` required with either and within ``max_skew`` when that is set. ``save``
needs an id opened earlier in an editor of the same kind. Opens and saves are recorded in
``editor_opens`` / ``editor_saves``; no key or signature appears in an error message.

The page's hooks for browser tests: ``#xj-lang``, ``#xj-status``, ``#xj-images`` (one
``img.xj-image[data-request-id]`` per id, the selected one ``data-selected="true"``),
``#xj-save``; on ``<body>``: ``data-editor``, ``data-state`` (``waiting`` → ``ready`` →
``saving`` → ``saved``, or ``error``), ``data-saves`` and ``data-ignored`` (messages ignored).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from emulators.xiangji import PENDING, XiangjiEmulator, _Job, md5_hex

# The protocol is written down again here, not imported from providers/xiangji/refine.py:
# like the emulator's own MD5 signing, so a mistake on Tolk's side cannot cancel itself out.
EDITOR_LANGUAGES = ("CHS", "CHT", "ENG", "JPN", "KOR", "ESP", "PTB")
SIGNED_KEYS = {"AigcKey": "AigcKeySign", "TextTransKey": "TextTransSign"}  # key -> its sign


@dataclass(frozen=True)
class Editor:
    path: str  # "image-editor" -> /image-editor/
    kind: str  # the job kind it refines
    request: str  # message name the host sends
    result: str  # message name the editor answers with
    title: str
    what: str  # the job kind in words, for error messages
    single: bool = False  # refines one image at a time
    signed: bool = False  # takes the AIGC / text-translation signatures


IMAGE_EDITOR = Editor(
    "image-editor",
    "translate",
    "XJ_IMAGE_EDITOR_REQUESTIDS",
    "XJ_IMAGE_EDITOR_URL",
    "image editor",
    "an image translation",
    signed=True,
)
KOUTU = Editor(
    "koutu",
    "matting",
    "XJ_KOUTU_REQUESTIDS",
    "XJ_KOUTU_RESULT",
    "cutout editor",
    "a cutout (matting)",
    single=True,
)
EDITORS = (IMAGE_EDITOR, KOUTU)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Xiangji editor (stand-in)</title>
<style>
body{font:14px system-ui,sans-serif;margin:12px;color:#1e293b}
#xj-images{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.xj-image{max-width:640px;max-height:420px;border:3px solid #e2e8f0;cursor:pointer}
.xj-image[data-selected="true"]{border-color:#2563eb}
body[data-state="error"] #xj-status{color:#b91c1c}
</style></head>
<body data-editor="__PATH__" data-state="waiting" data-saves="0" data-ignored="0">
<h1>Xiangji editor (stand-in)</h1>
<p>__TITLE__ · language <b id="xj-lang"></b></p>
<p id="xj-status">Waiting for __REQUEST__ from the host page</p>
<div id="xj-images"></div>
<button id="xj-save" type="button" disabled>Save</button>
<script>
"use strict";
const REQUEST = "__REQUEST__", RESULT = "__RESULT__";
const hash = location.hash, query = hash.indexOf("?");
const params = Object.fromEntries(new URLSearchParams(query < 0 ? "" : hash.slice(query + 1)));
const body = document.body, status = document.getElementById("xj-status");
const box = document.getElementById("xj-images"), save = document.getElementById("xj-save");
document.getElementById("xj-lang").textContent = params.lang || "CHS";
let urls = {}, selected = null;

function show(state, text) { body.dataset.state = state; status.textContent = text; }
function bump(name) { body.dataset[name] = String(Number(body.dataset[name]) + 1); }
function select(id) {
  selected = id;
  for (const img of box.children) img.dataset.selected = String(img.dataset.requestId === id);
}
async function call(path, payload) {
  const resp = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                  body: JSON.stringify(payload)});
  const data = await resp.json().catch(() => null);
  if (resp.ok && data && !data.error) return data;
  throw new Error((data && data.error) || "HTTP " + resp.status);
}

window.addEventListener("message", async (event) => {
  const data = event.data;
  if (event.source !== window.parent || !data || data.name !== REQUEST) return bump("ignored");
  save.disabled = true; box.replaceChildren(); urls = {}; selected = null;
  show("waiting", "Opening");
  try {
    const {images} = await call("./api/open", {requestIds: data.requestIds, params});
    for (const [id, url] of Object.entries(images)) {
      const img = document.createElement("img");
      img.className = "xj-image"; img.src = url; img.alt = id; img.dataset.requestId = id;
      img.addEventListener("click", () => select(id));
      box.append(img); urls[id] = url;
    }
    select(Object.keys(images)[0]);
    save.disabled = false;
    show("ready", "Editing " + Object.keys(images).length + " image(s)");
  } catch (err) {
    show("error", err.message);
  }
});

save.addEventListener("click", async () => {
  const id = selected;
  if (!id) return;
  save.disabled = true; show("saving", "Saving " + id);
  try {
    const {url} = await call("./api/save", {requestId: id, params});
    urls[id] = url;
    for (const img of box.children) if (img.dataset.requestId === id) img.src = url;
    window.parent.postMessage({name: RESULT, url, requestId: id, all: {...urls}}, "*");
    bump("saves");
    show("saved", "Saved " + id);
  } catch (err) {
    show("error", err.message);
  }
  save.disabled = false;
});
</script>
</body></html>
"""


def render_page(editor: Editor) -> str:
    values = {
        "__PATH__": editor.path,
        "__TITLE__": f"Xiangji {editor.title}",
        "__REQUEST__": editor.request,
        "__RESULT__": editor.result,
    }
    page = PAGE
    for placeholder, value in values.items():
        page = page.replace(placeholder, value)
    return page


class EditorError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def add_editor_routes(app: web.Application, emu: XiangjiEmulator) -> None:
    """``/<editor>`` (redirect), ``/<editor>/``, ``/<editor>/api/open`` and ``/api/save``."""
    for editor in EDITORS:
        routes = _Routes(emu, editor)
        base = f"/{editor.path}"
        app.router.add_get(base, routes.redirect)
        app.router.add_get(base + "/", routes.page)
        app.router.add_post(base + "/api/open", routes.open)
        app.router.add_post(base + "/api/save", routes.save)


class _Routes:
    def __init__(self, emu: XiangjiEmulator, editor: Editor) -> None:
        self.emu = emu
        self.editor = editor
        self.html = render_page(editor)

    async def redirect(self, request: web.Request) -> web.StreamResponse:
        # Without the slash, the page's "./api/open" would resolve to "/api/open".
        raise web.HTTPFound(f"/{self.editor.path}/")

    async def page(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            text=self.html,
            content_type="text/html",
            charset="utf-8",
            headers={"Cache-Control": "no-store"},
        )

    async def open(self, request: web.Request) -> web.StreamResponse:
        try:
            return web.json_response({"images": self._open(await _json_object(request))})
        except EditorError as error:
            return web.json_response({"error": error.message}, status=error.status)

    async def save(self, request: web.Request) -> web.StreamResponse:
        try:
            return web.json_response({"url": self._save(await _json_object(request))})
        except EditorError as error:
            return web.json_response({"error": error.message}, status=error.status)

    # -- checks -------------------------------------------------------------------

    def _open(self, body: dict[str, Any]) -> dict[str, str]:
        editor, emu = self.editor, self.emu
        params = _params(body)
        lang = params.get("lang")
        if lang is not None and lang not in EDITOR_LANGUAGES:
            raise EditorError(
                400,
                f"unsupported editor language {lang[:16]!r} (use one of "
                f"{', '.join(EDITOR_LANGUAGES)})",
            )
        signed = self._check_signs(params) if editor.signed else set()
        ids = body.get("requestIds")
        if not (
            isinstance(ids, list)
            and ids
            and all(isinstance(rid, str) and rid.strip() for rid in ids)
        ):
            raise EditorError(400, "requestIds must be a non-empty list of request id strings")
        if editor.single and len(ids) > 1:
            raise EditorError(400, "the cutout editor refines one image at a time")
        ids = list(dict.fromkeys(rid.strip() for rid in ids))
        images: dict[str, str] = {}
        for rid in ids:  # the API result URLs: what "all" holds for images not edited
            job = self._job(rid)
            images[rid] = emu._link(job, "c" if job.kind == "matting" else "f")
        emu.editor_opens.append(
            {
                "editor": editor.path,
                "kind": editor.kind,
                "request_ids": ids,
                "lang": lang,  # None when the page had no lang parameter
                "aigc": "AigcKey" in signed,  # AigcKey came, correctly signed
                "text": "TextTransKey" in signed,
                "at": emu.clock(),
            }
        )
        return images

    def _save(self, body: dict[str, Any]) -> str:
        editor, emu = self.editor, self.emu
        _params(body)
        rid = body.get("requestId")
        if not isinstance(rid, str) or not rid.strip():
            raise EditorError(400, "requestId must be a request id string")
        rid = rid.strip()
        opened = any(o["kind"] == editor.kind and rid in o["request_ids"] for o in emu.editor_opens)
        if not opened:
            raise EditorError(400, f"request id {rid[:64]!r} was not opened in the {editor.title}")
        job = self._job(rid)
        number = emu._refinements.get(rid, 0) + 1
        emu._refinements[rid] = number
        url = emu._link(job, f"r{number}")
        emu.editor_saves.append(
            {
                "editor": editor.path,
                "kind": editor.kind,
                "request_id": rid,
                "n": number,
                "url": url,
                "at": emu.clock(),
            }
        )
        return url

    def _job(self, rid: str) -> _Job:
        """The finished, unexpired job ``rid`` of this editor's kind."""
        emu, shown = self.emu, repr(rid[:64])
        job = emu._jobs.get(rid)
        if job is None:
            raise EditorError(400, f"unknown request id {shown}")
        if job.kind != self.editor.kind:
            other = "an image translation" if job.kind == "translate" else "a cutout (matting)"
            raise EditorError(400, f"request id {shown} is {other} job, not {self.editor.what}")
        if job.state == PENDING:
            raise EditorError(400, f"request id {shown} is still being processed")
        expired = (
            emu.result_ttl is not None
            and job.done_at is not None
            and emu.clock() - job.done_at > emu.result_ttl
        )
        if job.state == 117 or (job.state == 200 and expired):
            raise EditorError(400, f"request id {shown} has expired")
        if job.state != 200:
            raise EditorError(400, f"request id {shown} failed (code {job.state})")
        return job

    def _check_signs(self, params: dict[str, str]) -> set[str]:
        """The keys that came signed; raises on a bad pair, time or signature."""
        emu = self.emu
        accounts = {"AigcKey": emu.aigc_key, "TextTransKey": emu.keys[2]}
        signed: set[str] = set()
        for key_name, sign_name in SIGNED_KEYS.items():
            has_key, has_sign = key_name in params, sign_name in params
            if has_key != has_sign:
                given, missing = (key_name, sign_name) if has_key else (sign_name, key_name)
                raise EditorError(400, f"{given} was given without {missing}")
            if has_key:
                signed.add(key_name)
        commit_time = params.get("CommitTime", "").strip()
        if commit_time and not (commit_time.isascii() and commit_time.isdigit()):
            raise EditorError(400, "CommitTime must be a unix time in whole seconds")
        if not signed:
            return signed
        if not commit_time:
            raise EditorError(400, "CommitTime is required with AigcKey or TextTransKey")
        for key_name, sign_name in SIGNED_KEYS.items():
            if key_name not in signed:
                continue
            key = params[key_name]
            if key != accounts[key_name]:
                raise EditorError(403, f"{key_name} is not this account's key")
            expected = md5_hex(f"{commit_time}_{emu.user_key}_{key}")
            if params[sign_name].strip().lower() != expected:
                raise EditorError(
                    403, f"{sign_name} does not match md5(CommitTime_UserKey_{key_name})"
                )
        if emu.max_skew is not None:
            skew = abs(emu.clock() - int(commit_time))
            if skew > emu.max_skew:
                raise EditorError(
                    403,
                    f"CommitTime is {skew:.0f} s away from the server clock "
                    f"(at most {emu.max_skew:g} s allowed)",
                )
        return signed


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.text())
    except (ValueError, LookupError) as exc:  # bad JSON, bad bytes, unknown charset
        raise EditorError(400, "the request body must be a JSON object") from exc
    if not isinstance(body, dict):
        raise EditorError(400, "the request body must be a JSON object")
    return body


def _params(body: dict[str, Any]) -> dict[str, str]:
    params = body.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        raise EditorError(400, "params must be an object of strings (the page's hash parameters)")
    return params
