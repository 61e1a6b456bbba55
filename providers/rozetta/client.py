"""Thin async client for Rozetta file translation on a caller-owned ``aiohttp.ClientSession``.

One client per access key. Its calls are serialised by one ``asyncio.Lock``, and the
nonce is taken inside the lock, so requests reach Rozetta in nonce order however many
tasks call at once (Rozetta spec, 'Authentication': a nonce that is not bigger than the last one is
refused with
40005). A 40005 is retried once, still inside the lock, with a fresh nonce.

Every failure is a ``ProviderError``; messages never contain the access key, the secret
key or a signature.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from providers._http import DEFAULT_TIMEOUT, request_json
from providers.errors import ErrorKind, ProviderError
from providers.rozetta import wire
from providers.rozetta.wire import NonceSource, Translation

DEFAULT_API_URL = "https://translate.rozetta-api.io"
QUERY_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)
#: Uploads and downloads may be hundreds of MB: no total limit, but no silent stall.
TRANSFER_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120)
MAX_DOWNLOAD_BYTES = 1024 * 1024 * 1024
_ERROR_BODY_LIMIT = 1024 * 1024


@dataclass(frozen=True, repr=False)
class RozettaKeys:
    access_key: str
    secret_key: str

    def __repr__(self) -> str:  # never show a key
        return "RozettaKeys(access_key=***, secret_key=***)"


class RozettaClient:
    provider = wire.PROVIDER

    def __init__(
        self,
        session: aiohttp.ClientSession,
        keys: RozettaKeys,
        *,
        api_url: str = DEFAULT_API_URL,
        contract_id: str | None = None,
        field_id: str | None = None,
        clock: Callable[[], float] = time.time,
        max_download_bytes: int = MAX_DOWNLOAD_BYTES,
    ) -> None:
        self._session = session
        self._keys = keys
        self._base = api_url.rstrip("/")
        self._prefix = urlsplit(self._base).path  # signed paths start after the host
        self._contract_id = contract_id
        self._field_id = field_id or wire.DEFAULT_FIELD_ID
        self._nonces = NonceSource(clock)
        self._lock = asyncio.Lock()
        self._max_download = max_download_bytes

    def __repr__(self) -> str:
        return f"RozettaClient(api_url={self._base!r})"

    # -- plumbing ------------------------------------------------------------------

    def _sign(self, path: str) -> dict[str, str]:
        """Headers for the next request; call only while holding the lock."""
        k = self._keys
        return wire.auth_headers(k.access_key, k.secret_key, self._nonces.next(), path)

    def _redact(self, headers: dict[str, str]) -> tuple[str, ...]:
        return (self._keys.secret_key, self._keys.access_key, headers["signature"])

    def _url(self, sent_path: str) -> URL:
        return URL(self._base + sent_path, encoded=True)

    def _bad_request(self, operation: str, exc: ValueError) -> ProviderError:
        return ProviderError(self.provider, operation, "bad-request", str(exc), ErrorKind.PERMANENT)

    async def _json(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        form: Callable[[], aiohttp.FormData] | None = None,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - aiohttp's own timeout
    ) -> tuple[int, Any, tuple[str, ...]]:
        """Send one signed request; ``(status, JSON, strings to redact)``."""
        async with self._lock:
            for attempt in (1, 2):
                headers = self._sign(self._prefix + path)
                kwargs: dict[str, Any] = {"headers": headers, "timeout": timeout}
                if form is not None:
                    kwargs["data"] = form()  # a FormData can be sent only once
                status, body = await request_json(
                    self._session,
                    method,
                    self._url(path),
                    provider=self.provider,
                    operation=operation,
                    **kwargs,
                )
                if attempt == 1 and wire.error_code(body) == "40005":
                    continue  # someone else used a bigger nonce: once more, freshly signed
                return status, body, self._redact(headers)
        raise AssertionError("unreachable")  # pragma: no cover

    def _transport_error(self, operation: str, exc: BaseException) -> ProviderError:
        if isinstance(exc, TimeoutError):
            code, message = "timeout", "the provider did not answer in time"
        else:
            code, message = "transport", f"could not reach the provider ({type(exc).__name__})"
        return ProviderError(self.provider, operation, code, message, ErrorKind.RETRYABLE)

    async def _read(self, resp: aiohttp.ClientResponse, operation: str, limit: int) -> bytes:
        chunks, size = [], 0
        try:
            async for chunk in resp.content.iter_chunked(1 << 16):
                size += len(chunk)
                if size > limit:
                    message = f"the download is larger than {limit} bytes"
                    raise ProviderError(
                        self.provider, operation, "too-large", message, ErrorKind.PERMANENT
                    )
                chunks.append(chunk)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self._transport_error(operation, exc) from exc
        return b"".join(chunks)

    def _unavailable(self, operation: str, resp: aiohttp.ClientResponse) -> ProviderError | None:
        if resp.status < 500 and resp.status != 429:
            return None
        value = resp.headers.get("Retry-After")
        try:
            retry_after = max(0.0, float(value)) if value else None
        except ValueError:
            retry_after = None
        message = "the provider is temporarily unavailable"
        return ProviderError(
            self.provider,
            operation,
            f"http-{resp.status}",
            message,
            ErrorKind.RETRYABLE,
            retry_after,
        )

    async def _bytes(self, operation: str, signed_path: str, sent_path: str) -> bytes:
        """GET a file. The lock is held until the response headers arrive (Rozetta has
        checked the nonce by then); the body is read after it is released."""
        async with self._lock:
            for attempt in (1, 2):
                headers = self._sign(self._prefix + signed_path)
                redact = self._redact(headers)
                try:
                    resp = await self._session.get(
                        self._url(sent_path), headers=headers, timeout=TRANSFER_TIMEOUT
                    )
                except (TimeoutError, aiohttp.ClientError) as exc:
                    raise self._transport_error(operation, exc) from exc
                if resp.status == 200 and resp.content_type != "application/json":
                    break  # the archive: read it outside the lock
                try:
                    if (error := self._unavailable(operation, resp)) is not None:
                        raise error
                    body = await self._read(resp, operation, _ERROR_BODY_LIMIT)
                finally:
                    resp.release()
                if attempt == 1 and wire.error_code(_loads(body)) == "40005":
                    continue
                return wire.parse_download(resp.status, body, operation, redact=redact)
        try:
            body = await self._read(resp, operation, self._max_download)
        finally:
            resp.release()
        return wire.parse_download(resp.status, body, operation, redact=redact)

    # -- operations ----------------------------------------------------------------

    async def file_translate(
        self,
        files: Sequence[tuple[str, bytes]],
        target_langs: Sequence[str],
        *,
        source_lang: str | None = None,
        field_id: str | None = None,
        contract_id: str | None = None,
    ) -> str:
        """'Upload files': upload ``(file name, content)`` pairs for translation into
        ``target_langs``; return the ``translateId``. One item is made per file × target
        language. ``source_lang`` None asks Rozetta to detect it."""
        op = wire.FILE_TRANSLATE
        try:
            if not files:
                raise ValueError("at least one file is required")
            fields = wire.file_translate_fields(
                target_langs,
                field_id=field_id or self._field_id,
                contract_id=contract_id or self._contract_id,
                source_lang=source_lang,
            )
        except ValueError as exc:
            raise self._bad_request(op, exc) from exc
        parts = [(wire.upload_name(name), data) for name, data in files]

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData(quote_fields=False, default_to_multipart=True)  # UTF-8 names
            for name, value in fields:
                data.add_field(name, value)
            for name, content in parts:
                ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
                data.add_field("files", content, filename=name, content_type=ctype)
            return data

        status, body, redact = await self._json(
            op, "POST", wire.FILE_TRANSLATE_PATH, form=form, timeout=TRANSFER_TIMEOUT
        )
        return wire.parse_file_translate(status, body, op, redact=redact)

    async def translate_result(self, translate_id: str) -> Translation:
        """'One translation's result': one translation and its items."""
        op = wire.TRANSLATE_RESULT
        try:
            path = wire.translate_result_path(translate_id)
        except ValueError as exc:
            raise self._bad_request(op, exc) from exc
        status, body, redact = await self._json(op, "GET", path, timeout=QUERY_TIMEOUT)
        return wire.parse_translate_result(status, body, op, redact=redact)

    async def translate_result_all(self) -> tuple[Translation, ...]:
        """'All results': every translation of the access key (its whole history). Whether this
        or ``translate_result`` per id is cheaper: ``wire.choose_poll``."""
        op = wire.TRANSLATE_RESULT_ALL
        status, body, redact = await self._json(op, "GET", wire.TRANSLATE_RESULT_ALL_PATH)
        return wire.parse_translate_result_all(status, body, op, redact=redact)

    async def downloads(self, item_ids: Sequence[str]) -> bytes:
        """'Download': the ZIP archive of finished items (``TranslateItem.item_id``)."""
        op = wire.DOWNLOADS
        try:
            signed, sent = wire.downloads_path(item_ids)
        except ValueError as exc:
            raise self._bad_request(op, exc) from exc
        return await self._bytes(op, signed, sent)

    async def download_files(
        self, item_ids: Sequence[str], *, max_total_bytes: int = wire.MAX_UNPACKED_BYTES
    ) -> tuple[tuple[str, bytes], ...]:
        """``downloads`` unpacked (``wire.unpack_zip``): ``(name, content)`` pairs."""
        archive = await self.downloads(item_ids)
        return wire.unpack_zip(archive, max_total_bytes=max_total_bytes)


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
