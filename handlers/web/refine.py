"""The Refine page: Xiangji's editor on one image, for one Slack user, and the way its
result comes back.

    GET  /refine/<task>/<index>/<user>/<lang>/<expires>/<signature>   the page
    POST the same path                                                  the editor's result

The link (``Links.refine_url``) is signed over task, image, user and editor language,
and expires. It authorises one result: the first POST records an ``xiangji.refine``
task whose dedupe key is a digest of the signature, so however often the page posts — a second
save, a reload, a replay — the refined image is posted once. The page listens only to
the editor's origin and only for the documented message name; the server checks again
everything the page sends and trusts none of it: the URL must be the editor's result for
this image's request id (``editor_result``) and on an allowed host.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.core import messages
from bot.core.links import REFINE_SECONDS
from bot.core.tasks import Item, Place, Task
from handlers.ports import RefineSite

log = logging.getLogger(__name__)

ROUTE = "/refine/{task}/{index}/{user}/{lang}/{expires}/{sig}"
MAX_RESULT_BYTES = 64 * 1024  # {name, url, requestId, all} for one image

# Slack locale → the editor's UI language (seed part 九); English for the rest.
_LOCALES = {"zh-cn": "CHS", "zh-tw": "CHT", "ja-jp": "JPN", "ko-kr": "KOR"}
_LANGUAGE_PREFIXES = {"zh": "CHS", "en": "ENG", "ja": "JPN", "ko": "KOR", "es": "ESP", "pt": "PTB"}


def editor_language(locale: str | None) -> str:
    locale = (locale or "").lower()
    return _LOCALES.get(locale) or _LANGUAGE_PREFIXES.get(locale[:2], "ENG")


def add_refine_routes(app: web.Application, site: RefineSite) -> None:
    """Mount the Refine page on ``app``, with the ports ``site`` holds."""

    async def page(request: web.Request) -> web.Response:
        return await _page(site, request)

    async def result(request: web.Request) -> web.Response:
        return await _result(site, request)

    app.router.add_get(ROUTE, page)
    app.router.add_post(ROUTE, result)


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _spent_key(signature: str) -> str:
    """What the store keeps for a used link: a digest of its signature, so the database
    never holds a link that still opens a page."""
    return hashlib.sha256(f"tolk refine link\n{signature}".encode()).hexdigest()[:32]


async def _target(site: RefineSite, request: web.Request) -> tuple[Task, int, str]:
    """The task and image a genuine, unexpired link points at, and its signature."""
    m = request.match_info
    if not site.links.refine_link_valid(
        m["task"], m["index"], m["user"], m["lang"], m["expires"], m["sig"]
    ):
        raise _Refused(403, messages.REFINE_LINK_INVALID)
    task = await site.desk.get(m["task"])
    index = int(m["index"])
    if task is None or index not in dict(site.refine.refinable(task)):
        raise _Refused(404, messages.REFINE_IMAGE_GONE)
    return task, index, m["sig"]


async def _page(site: RefineSite, request: web.Request) -> web.Response:
    try:
        task, index, signature = await _target(site, request)
        if await site.desk.link_used(_spent_key(signature)):
            raise _Refused(410, messages.REFINE_LINK_SPENT)
        editor = site.refine.editor_page(task, request.match_info["lang"])
        if editor is None:
            raise _Refused(404, messages.REFINE_IMAGE_GONE)  # Xiangji is off now
    except _Refused as exc:
        return _html(exc.status, "Refine", f"<p>{html.escape(exc.message)}</p>")
    src = editor.src
    label = site.refine.image_label(task, index).replace("`", "")
    config = {
        "editorOrigin": editor.origin,
        "idsMessage": editor.ids_message,
        "resultMessage": editor.result_message,
        "requestId": task.items[index].provider_id,
        "texts": messages.refine_page_texts(int(REFINE_SECONDS // 60)),
    }
    nonce = secrets.token_urlsafe(16)
    body = _PAGE.format(
        nonce=nonce,
        label=html.escape(label),
        src=html.escape(src),
        config=json.dumps(config).replace("<", "\\u003c"),
    )
    csp = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        f"frame-src {config['editorOrigin']}; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    log.info("task %s: Refine page opened for image %d", task.id, index + 1)
    return _html(200, f"Refine {label}", body, csp=csp)


async def _result(site: RefineSite, request: web.Request) -> web.Response:
    try:
        task, index, signature = await _target(site, request)
        _same_origin(site.web_config.public_url, request)
        refined = await _refined_url(site, request, task, index)
    except _Refused as exc:
        return web.json_response({"error": exc.message}, status=exc.status)
    output = next(o for o in task.items[index].outputs if o.get("kind") == "image")
    if refined == output["url"]:
        return web.json_response({"status": "unchanged"})
    user = request.match_info["user"]
    label = site.refine.image_label(task, index)
    name = site.refine.result_name(task, index, output)
    refine, created = await site.desk.record(
        dedupe_key=f"refine:{_spent_key(signature)}",
        place=Place(task.place.team, task.place.channel, user, task.place.thread_ts),
        provider="xiangji",
        operation=site.refine.operation,
        request={"by": user, "of": task.id, "index": index, "label": label, "name": name},
        items=(Item(source=refined, provider_id=task.items[index].provider_id),),
    )
    if not created:
        return web.json_response({"status": "already-sent", "task": refine.id}, status=409)
    await site.desk.use_link(_spent_key(signature), refine.id)
    log.info(
        "task %s: refined image %d handed over; task %s posts it", task.id, index + 1, refine.id
    )
    return web.json_response({"status": "accepted", "task": refine.id}, status=202)


def _same_origin(public_url: str | None, request: web.Request) -> None:
    """A browser names the page that sent the POST: it must be ours."""
    origin = request.headers.get("Origin")
    public = urlsplit(public_url or "")
    if origin is not None and origin != f"{public.scheme}://{public.netloc}":
        raise _Refused(403, messages.REFINE_FOREIGN_ORIGIN)


async def _refined_url(site: RefineSite, request: web.Request, task: Task, index: int) -> str:
    """The refined URL for this link's image, from the editor's documented message."""
    if request.content_type != "application/json":
        raise _Refused(415, messages.REFINE_NOT_JSON_TYPE)
    raw = await request.read()  # whole (however it is chunked), within client_max_size
    if len(raw) > MAX_RESULT_BYTES:
        raise _Refused(413, messages.REFINE_TOO_LARGE)
    try:
        data: Any = json.loads(raw)
    except ValueError:
        raise _Refused(400, messages.REFINE_NOT_JSON) from None
    expected = site.refine.result_message(task)
    if not isinstance(data, dict) or data.get("name") != expected:
        raise _Refused(400, messages.refine_wrong_message(expected))
    request_id = task.items[index].provider_id or ""  # a refinable image has one
    return editor_result(data, request_id, site.refine.host_allowed)


def editor_result(
    data: dict[str, Any], request_id: str, host_allowed: Callable[[str], bool]
) -> str:
    """The URL the editor's message (``{name, url, requestId, all}``, seed parts 九, 十一)
    gives as the result for ``request_id``, or ``_Refused``.

    What ties a URL to the image: the documented fields — ``url`` when ``requestId`` is
    this image's id, ``all[request id]`` (every opened image's latest URL) — which must
    agree when both are there; and the URL itself, which names the request id as a whole
    path segment, as every Xiangji result URL does (``https://i.tosoiot.com/<date>/<id>/…``,
    Xiangji spec, 'Refinement editor') and the emulator's stand-in editor
    (``<base>/i/<id>/r<n>.png``). A URL on an
    allowed host that is not this image's result — another task's image, any other file —
    is refused, whatever the message claims."""
    found: list[Any] = []
    if data.get("requestId") == request_id:
        found.append(data.get("url"))
    everything = data.get("all")
    if isinstance(everything, dict) and request_id in everything:
        found.append(everything[request_id])
    if not found:
        raise _Refused(400, messages.REFINE_NO_URL)
    for url in found:
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise _Refused(400, messages.REFINE_NO_URL)
        if not host_allowed(url):
            _note_refused_host(url)
            raise _Refused(400, messages.REFINE_HOST_REFUSED)
    if len(set(found)) > 1:
        raise _Refused(400, messages.REFINE_RESULT_DISAGREES)
    (refined,) = set(found)
    if not _names_request_id(refined, request_id):
        raise _Refused(400, messages.REFINE_NOT_THIS_IMAGE)
    return refined


_REFUSED_HOSTS: set[str] = set()  # hosts already named in the log (a few at most)


def _note_refused_host(url: str) -> None:
    """Xiangji's editor may save on a host no seed names: say so once per host, with the
    variable that admits it, so an operator can tell a new CDN from an attack."""
    host = urlsplit(url).netloc.lower()
    if host in _REFUSED_HOSTS or len(_REFUSED_HOSTS) >= 100:
        return
    _REFUSED_HOSTS.add(host)
    log.warning(
        "A Refine result on %s was refused: that host is not in TOLK_ALLOWED_FILE_HOSTS. "
        "If Xiangji's editor saves there, add it to TOLK_ALLOWED_FILE_HOSTS.",
        host,
    )


_ENCODED_PATH = re.compile(r"%(2e|2f|5c|25)|\\", re.IGNORECASE)  # ``.``, ``/``, ``\``, ``%``


def _names_request_id(url: str, request_id: str) -> bool:
    """``url``'s path has ``request_id`` as one whole segment, with nothing that moves it
    elsewhere once resolved (no ``.``/``..`` segment, no encoded dot, slash or backslash)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    segments = path.split("/")
    if _ENCODED_PATH.search(path) or any(s in (".", "..") for s in segments):
        return False
    return bool(request_id) and request_id in segments


def _html(status: int, title: str, body: str, *, csp: str | None = None) -> web.Response:
    page = _FRAME.format(title=html.escape(title), body=body)
    headers = {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",  # the link is the credential: never pass it on
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": csp or "default-src 'none'",
    }
    return web.Response(status=status, text=page, content_type="text/html", headers=headers)


_FRAME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Tolk</title></head>
<body>{body}</body></html>
"""

_PAGE = """<style nonce="{nonce}">
  body {{ margin: 0; font: 15px/1.4 system-ui, sans-serif; color: #1d1c1d;
         display: flex; flex-direction: column; height: 100vh; }}
  header {{ padding: 10px 16px; background: #4a154b; color: #fff; display: flex;
           gap: 16px; align-items: baseline; flex-wrap: wrap; }}
  header h1 {{ font-size: 17px; margin: 0; }}
  #tolk-status {{ opacity: .9; }}
  body[data-state=sent] #tolk-status {{ font-weight: 600; }}
  body[data-state=error] #tolk-status {{ color: #ffd2d2; font-weight: 600; }}
  iframe {{ flex: 1; width: 100%; border: 0; }}
</style>
<header><h1>Refine {label}</h1>
  <span id="tolk-status"></span></header>
<iframe id="xiangji-editor" title="Xiangji image editor" src="{src}"
  referrerpolicy="no-referrer"
  sandbox="allow-scripts allow-same-origin allow-forms allow-popups allow-modals allow-downloads">
</iframe>
<script type="application/json" id="tolk-refine">{config}</script>
<script nonce="{nonce}">
  const cfg = JSON.parse(document.getElementById("tolk-refine").textContent);
  const frame = document.getElementById("xiangji-editor");
  const status = document.getElementById("tolk-status");
  const show = (state, text) => {{
    document.body.dataset.state = state;
    status.textContent = text;
  }};
  show("loading", cfg.texts.loading);
  document.body.dataset.posts = "0";
  frame.addEventListener("load", () => {{
    frame.contentWindow.postMessage(
      {{ name: cfg.idsMessage, requestIds: [cfg.requestId] }}, cfg.editorOrigin);
    show("editing", cfg.texts.editing);
  }});
  // The server's answer → the page's state; its own text when it has one.
  const states = {{ "accepted": "sent", "already-sent": "sent", "unchanged": "editing" }};
  window.addEventListener("message", async (event) => {{
    if (event.origin !== cfg.editorOrigin || event.source !== frame.contentWindow) return;
    const data = event.data;
    if (!data || typeof data !== "object" || data.name !== cfg.resultMessage) return;
    show("sending", cfg.texts.sending);
    document.body.dataset.posts = String(Number(document.body.dataset.posts) + 1);
    const message = {{ name: data.name, url: data.url, requestId: data.requestId, all: data.all }};
    try {{
      const resp = await fetch(location.pathname, {{
        method: "POST", headers: {{ "Content-Type": "application/json" }},
        body: JSON.stringify(message), cache: "no-store", credentials: "omit" }});
      const answer = await resp.json();
      if (answer.status in states) show(states[answer.status], cfg.texts[answer.status]);
      else show("error", answer.error || cfg.texts.refused);
    }} catch (err) {{
      show("error", cfg.texts.unreachable + err);
    }}
  }});
</script>
"""
