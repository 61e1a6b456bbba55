"""Provider callbacks: Alibaba document translation's ``CallbackUrl``.

A callback is only a hint. It must carry the task's token (``bot/links.py``); with
``ALIBABA_CALLBACK_IPS`` set it must also come from one of those addresses. A valid
one makes the task due at once, and the status query that follows is the truth — so a
forged or stale body can never deliver anything. Anything else gets the same 404 and
changes nothing.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from bot.delivery import FileTooLarge, read_at_most
from providers.alibaba.wire import parse_callback

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 64 * 1024
DOC_OPERATION = "alibaba.translate_doc"


def add_callback_routes(app: web.Application, services: Services) -> None:
    allowed = frozenset(services.settings.alibaba.callback_ips if services.settings.alibaba else ())

    async def alibaba(request: web.Request) -> web.Response:
        task_id, token = request.match_info["task"], request.match_info["token"]
        unknown = web.json_response({"ok": False}, status=404)
        if allowed and request.remote not in allowed:
            log.warning(
                "Alibaba callback for %s from %s refused: not a listed address",
                task_id,
                request.remote,
            )
            return web.json_response({"ok": False}, status=403)
        if not services.links.callback_valid(task_id, token):
            log.warning("Alibaba callback for %s refused: wrong token", task_id)
            return unknown
        task = await services.store.get(task_id)
        if task is None or task.operation != DOC_OPERATION:
            return unknown
        try:
            raw = await read_at_most(request.content, MAX_CALLBACK_BYTES)
            notice = parse_callback(json.loads(raw or b"null"))
        except (ValueError, FileTooLarge):
            notice = None
        ids = {i.provider_id for i in task.items if i.provider_id}
        if notice is not None and ids and notice.task_id not in ids:
            log.warning("Alibaba callback for %s names another Alibaba task", task_id)
            return unknown
        status = notice.status if notice else "unreadable"
        if await services.store.wake(task_id, services.clock()):
            log.info("task %s: Alibaba callback (%s); checking now", task_id, status)
            services.poller.nudge()
        return web.json_response({"ok": True})

    app.router.add_post("/callbacks/alibaba/{task}/{token}", alibaba)
