"""Signed links: files a provider must fetch, per-task callback addresses, and the
per-user pages that open Xiangji's editor (``/refine/…``, ``bot/refine.py``).

A Slack upload is private, so when a provider has to fetch one (Alibaba document
translation takes only a ``FileUrl``) Tolk serves it itself under ``TOLK_PUBLIC_URL``::

    /files/<task>/<item>/<expires>/<signature>/<name>

The HMAC covers task, item, expiry and name: a link opens exactly one file, until it
expires or its task settles, and there is no listing. Callbacks carry a per-task token
(``/callbacks/alibaba/<task>/<token>``) derived the same way, so nothing secret is
stored and every replica can check it. Signatures are compared in constant time.

The key is derived from the Slack signing secret (or the bot token in Socket Mode):
already secret, already shared by every replica, and rotating it revokes every link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import mimetypes
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web

from bot.delivery import DownloadFailed, DownloadRefused, FileTooLarge

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

LINK_SECONDS = 3600.0
REFINE_SECONDS = 1800.0  # a Refine link: long enough to touch up an image, no longer
MAX_SERVED_BYTES = 50 * 1024 * 1024  # Alibaba's document limit
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file name a provider accepts in a URL: ASCII, no spaces (Alibaba §6)."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = _UNSAFE.sub("_", stem).strip("._") or "file"
    ext = _UNSAFE.sub("", ext)[:10]
    return f"{stem[:80]}.{ext}" if ext else stem[:80]


class Links:
    def __init__(
        self,
        public_url: str | None,
        secret: str,
        *,
        clock: Callable[[], float] = time.time,
        ttl: float = LINK_SECONDS,
    ) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self._key = hmac.new(secret.encode(), b"tolk signed links v1", hashlib.sha256).digest()
        self._clock = clock
        self.ttl = ttl

    def __repr__(self) -> str:
        return f"Links(public_url={self.public_url!r})"

    def _sign(self, *parts: str) -> str:
        digest = hmac.new(self._key, "\n".join(parts).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode()

    def _base(self) -> str:
        if self.public_url is None:
            raise RuntimeError("TOLK_PUBLIC_URL is not set")
        return self.public_url

    # --- files ---------------------------------------------------------------------------

    def file_url(self, task_id: str, index: int, name: str) -> str:
        name = safe_name(name)
        expires = str(int(self._clock() + self.ttl))
        signature = self._sign("file", task_id, str(index), expires, name)
        return f"{self._base()}/files/{task_id}/{index}/{expires}/{signature}/{quote(name)}"

    def file_link_valid(
        self, task_id: str, index: str, expires: str, signature: str, name: str
    ) -> bool:
        return self._valid(signature, expires, "file", task_id, index, expires, name)

    def _valid(self, signature: str, expires: str, *signed: str) -> bool:
        """``signature`` is the one for ``signed`` (which includes ``expires``), and
        ``expires`` is still ahead."""
        genuine = hmac.compare_digest(self._sign(*signed).encode(), signature.encode())
        return genuine and expires.isdigit() and int(expires) > self._clock()

    # --- refine pages ----------------------------------------------------------------------

    def refine_url(self, task_id: str, index: int, user: str, lang: str) -> str:
        """A page that opens Xiangji's editor on one image, for one Slack user: the
        signature binds task, image, user and editor language, so none can be swapped."""
        expires = str(int(self._clock() + REFINE_SECONDS))
        signature = self._sign("refine", task_id, str(index), user, lang, expires)
        return f"{self._base()}/refine/{task_id}/{index}/{user}/{lang}/{expires}/{signature}"

    def refine_link_valid(
        self, task_id: str, index: str, user: str, lang: str, expires: str, signature: str
    ) -> bool:
        return self._valid(signature, expires, "refine", task_id, index, user, lang, expires)

    # --- callbacks -------------------------------------------------------------------------

    def callback_url(self, provider: str, task_id: str) -> str:
        return f"{self._base()}/callbacks/{provider}/{task_id}/{self.callback_token(task_id)}"

    def callback_token(self, task_id: str) -> str:
        return self._sign("callback", task_id)

    def callback_valid(self, task_id: str, token: str) -> bool:
        return hmac.compare_digest(self.callback_token(task_id).encode(), token.encode())


def add_file_route(app: web.Application, services: Services) -> None:
    links = services.links

    async def serve(request: web.Request) -> web.StreamResponse:
        task_id, index = request.match_info["task"], request.match_info["index"]
        name = request.match_info["name"]
        refused = web.Response(status=403, text="This link has expired or is not valid.\n")
        if not links.file_link_valid(
            task_id, index, request.match_info["expires"], request.match_info["sig"], name
        ):
            return refused
        task = await services.store.get(task_id)
        if task is None or task.settled or not index.isdigit() or int(index) >= len(task.items):
            return refused
        item = task.items[int(index)]
        try:
            data = await services.delivery.download_slack_file(item.source, limit=MAX_SERVED_BYTES)
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
