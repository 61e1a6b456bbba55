"""``/files/…``: the Slack upload a provider must fetch (Alibaba document translation
takes only a ``FileUrl``), served under a signed link from ``bot.core.links``.

Only a checked Slack file of a task that has not settled is served, read with the bot
token through the same bounded download as everything else; an invalid, expired or
settled link is a plain 403 that says nothing about what exists.
"""

from __future__ import annotations

import logging
import mimetypes
from typing import Protocol

from aiohttp import web

from bot.core.fetch import DownloadFailed, DownloadRefused, FileTooLarge
from bot.core.links import MAX_SERVED_BYTES, Links
from bot.core.storage import TaskStore

log = logging.getLogger(__name__)


class DownloadSlackFile(Protocol):
    async def __call__(self, url: str, *, limit: int, file_id: str, team: str) -> bytes:
        """The file, read with the token of workspace ``team`` (the task's)."""
        ...


def add_file_route(
    app: web.Application, links: Links, store: TaskStore, download: DownloadSlackFile
) -> None:
    """Mount ``/files/…``: a signed link to a Slack file of a task still in flight."""

    async def serve(request: web.Request) -> web.StreamResponse:
        task_id, index = request.match_info["task"], request.match_info["index"]
        name = request.match_info["name"]
        refused = web.Response(status=403, text="This link has expired or is not valid.\n")
        if not links.file_link_valid(
            task_id, index, request.match_info["expires"], request.match_info["sig"], name
        ):
            return refused
        task = await store.get(task_id)
        if task is None or task.settled or not index.isdigit() or int(index) >= len(task.items):
            return refused
        item = task.items[int(index)]
        file_id = item.meta.get("file_id")
        if item.meta.get("kind") != "slack-file" or not file_id:
            return refused  # only a checked Slack file is ever served (issue 16)
        try:
            data = await download(
                item.source, limit=MAX_SERVED_BYTES, file_id=str(file_id), team=task.place.team
            )
        except (DownloadRefused, FileTooLarge):
            return refused
        except DownloadFailed:
            return web.Response(status=502, text="The file could not be read from Slack.\n")
        log.info("task %s: served item %s (%d bytes) at its signed link", task_id, index, len(data))
        return web.Response(
            body=data,
            content_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )

    app.router.add_get("/files/{task}/{index}/{expires}/{sig}/{name}", serve)
