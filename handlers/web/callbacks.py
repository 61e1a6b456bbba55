"""Provider callbacks: Alibaba document translation's ``CallbackUrl``.

A callback is only a hint. It must carry the task's token (``bot/core/links.py``); with
``ALIBABA_CALLBACK_IPS`` set it must also come from one of those addresses (behind a
reverse proxy, name it in ``TOLK_TRUSTED_PROXIES`` so its ``X-Forwarded-For`` counts). A valid
one makes the task due at once, and the status query that follows is the truth — so a
forged or stale body can never deliver anything. Anything else gets the same 404 and
changes nothing.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Sequence

from aiohttp import web

from bot.core.fetch import FileTooLarge, read_at_most
from bot.core.logs import Throttled
from handlers.ports import CallbackSite, IPNetwork
from providers.alibaba.spec import parse_callback

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 64 * 1024
DOC_OPERATION = "alibaba.translate_doc"


def client_address(request: web.Request, trusted: Sequence[IPNetwork]) -> str | None:
    """Who sent ``request``: the peer, or — only when the peer is a trusted proxy
    (``TOLK_TRUSTED_PROXIES``) — the nearest address in ``X-Forwarded-For`` that is not
    itself a trusted proxy. Anyone else's ``X-Forwarded-For`` is ignored: it is theirs
    to forge."""
    hops = [request.remote or ""]
    if _trusted(hops[0], trusted):
        for value in request.headers.getall("X-Forwarded-For", []):
            hops[:0] = [h.strip() for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] or None


def _trusted(address: str, trusted: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def add_callback_routes(app: web.Application, site: CallbackSite) -> None:
    """Mount ``/callbacks/alibaba/…`` on ``app``, with the ports ``site`` holds."""
    desk, links, config = site.desk, site.links, site.web_config
    allowed = config.alibaba_callback_ips

    refused = Throttled(log)  # strangers can call this at any rate: a line a minute at most

    async def alibaba(request: web.Request) -> web.Response:
        task_id, token = request.match_info["task"], request.match_info["token"]
        unknown = web.json_response({"ok": False}, status=404)
        source = client_address(request, config.trusted_proxies)
        if allowed and source not in allowed:
            refused("An Alibaba callback from %s was refused: not a listed address", source)
            return web.json_response({"ok": False}, status=403)
        if not links.callback_valid(task_id, token):
            refused("An Alibaba callback was refused: wrong token")
            return unknown
        task = await desk.get(task_id)
        if task is None or task.operation != DOC_OPERATION:
            return unknown
        try:
            raw = await read_at_most(request.content, MAX_CALLBACK_BYTES)
            notice = parse_callback(json.loads(raw or b"null"))
        except (ValueError, FileTooLarge):
            notice = None
        ids = {i.provider_id for i in task.items if i.provider_id}
        if notice is not None and ids and notice.task_id not in ids:
            refused("An Alibaba callback named another Alibaba task")
            return unknown
        status = notice.status if notice else "unreadable"
        if await desk.wake(task_id):
            log.info("task %s: Alibaba callback (%s); checking now", task_id, status)
        return web.json_response({"ok": True})

    app.router.add_post("/callbacks/alibaba/{task}/{token}", alibaba)
