"""Alibaba MTS intelligent-production jobs: ``/media-job FUNCTION INPUT [JSON]`` and
``/media-job status JOBID``.

A job is submitted once (``UserData`` carries the task id; ``Output`` is
``ALIBABA_MTS_OUTPUT`` with the task filled in), then ``QueryIProductionJob`` is polled —
one call per job per round, every call through the account's 100-per-second bucket —
through Queuing → Analysing → Success/Fail. On success the objects the ``Result`` names
are read from OSS through presigned URLs made at the moment of download (so a restart
hours later still works): images and subtitles are uploaded as files, anything else is
summarised in the closing message. A ``Fail`` posts its code and message.

A job that succeeded stays a success when Tolk cannot read its outputs (issue 17, item 7):
an OSS host Tolk does not download from, OSS answering 403, no ``ALIBABA_OSS_ENDPOINT``
(and the endpoint the ``oss://`` location names, or the default, not readable), a
missing object, a file too large. Each such output is kept as a line of the closing
message — its ``oss://bucket/key``, the reason, and what an admin changes (``unreadable``)
— while every output that could be read is attached as usual.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from bot.core import messages
from bot.core.fetch import MAX_DOWNLOAD_BYTES, DownloadFailed, DownloadRefused, FileTooLarge
from bot.core.tasks import State, Task
from bot.engine.delivery import Delivery
from bot.engine.operation import Operation, fail_item
from bot.engine.ratelimit import RateLimits
from providers.alibaba.signing import Credentials
from providers.errors import ErrorKind, ProviderError
from providers.mts.client import MtsClient
from providers.mts.wire import IProductionJob, expand_output, job_failure
from providers.oss.presign import oss_endpoint, presign_get, split_oss_url

POLL_KEY = "mts"
# a job just submitted may not be visible to Query yet (Alibaba MTS spec, 'Decoding Result')
NOT_FOUND_GRACE = 60.0
FILE_KINDS = {
    ".jpg": "image",
    ".jpeg": "image",
    ".png": "image",
    ".gif": "image",
    ".webp": "image",
    ".srt": "file",
    ".vtt": "file",
    ".ass": "file",
}
_HTTP_STATUS = re.compile(r"\bHTTP (\d{3})\b")
_URL_QUERY = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s?#]*)[?#]\S*", re.IGNORECASE)


def mts_operations(
    client: MtsClient,
    limits: RateLimits,
    delivery: Delivery,
    credentials: Credentials,
    *,
    output: str | None,
    pipeline_id: str | None,
    oss_endpoint: str | None,
    clock: Callable[[], float],
) -> dict[str, Operation]:
    return {
        "mts.iproduction": IProduction(
            client,
            limits,
            delivery,
            credentials,
            output=output,
            pipeline_id=pipeline_id,
            oss=oss_endpoint,
            clock=clock,
        )
    }


class IProduction(Operation):
    provider = "mts"
    needs_thread = True
    poll_key = POLL_KEY

    def __init__(
        self,
        client: MtsClient,
        limits: RateLimits,
        delivery: Delivery,
        credentials: Credentials,
        *,
        output: str | None,
        pipeline_id: str | None,
        oss: str | None,
        clock: Callable[[], float],
    ) -> None:
        self.client = client
        self.limits = limits
        self.delivery = delivery
        self.credentials = credentials
        self.output = output
        self.pipeline_id = pipeline_id
        self.oss = oss
        self.clock = clock

    def parent_text(self, task: Task) -> str:
        r = task.request
        source = r.get("input") or task.items[0].provider_id or "?"
        return messages.media_parent(task.id, task.place.user, r.get("function"), source)

    async def submit(self, task: Task, now: float) -> Task:
        item = task.items[0]
        if item.provider_id:  # /media-job status JOBID: a job submitted elsewhere
            return task.to(State.SUBMITTED, now)
        r = task.request
        if not self.output:
            raise ProviderError(
                "mts",
                "SubmitIProductionJob",
                "no-output",
                messages.no_mts_output(),
                ErrorKind.PERMANENT,
            )
        await self.limits.acquire("mts")
        try:
            job_id = await self.client.submit_iproduction_job(
                r["function"],
                r["input"],
                expand_output(self.output, task_id=task.id, function=r["function"]),
                pipeline_id=self.pipeline_id,
                job_params=r.get("params") or None,
                user_data=task.id,
            )
        except ValueError as exc:  # the configured output template is wrong
            raise ProviderError(
                "mts", "SubmitIProductionJob", "bad-request", str(exc), ErrorKind.PERMANENT
            ) from None
        return task.to(State.SUBMITTED, now, items=(replace(item, provider_id=job_id),))

    async def poll(self, tasks: Sequence[Task], now: float) -> list[Task]:
        return list(await asyncio.gather(*(self._poll_one(t, now) for t in tasks)))

    async def _poll_one(self, task: Task, now: float) -> Task:
        item = task.items[0]
        await self.limits.acquire("mts")
        try:
            job = await self.client.query_iproduction_job(item.provider_id or "")
        except ProviderError as exc:
            if exc.kind is not ErrorKind.PERMANENT:
                raise
            return task.but(items=(fail_item(item, exc.code, exc.message),))
        if job.pending or (job.missing and now - task.created_at < NOT_FOUND_GRACE):
            return task
        if job.missing:
            return task.but(items=(fail_item(item, "not-found", messages.unknown_mts_job()),))
        request = {**task.request, "function": task.request.get("function") or job.function_name}
        task = task.but(request=request)
        if job.failed:
            error = job_failure(job)
            failed = task.but(items=(fail_item(item, error.code, error.message),))
            if error.kind is ErrorKind.QUOTA:
                failed = failed.but(
                    notes={
                        **failed.notes,
                        "quota_error": {
                            "code": error.code,
                            "message": error.message,
                            "kind": "quota",
                        },
                    }
                )
            return failed
        return task.but(items=(replace(item, status="done", outputs=_outputs(job)),))

    def _endpoint(self, output: dict[str, Any]) -> tuple[str, str]:
        """Where an output is read from, and how Tolk knows: ``configured``
        (ALIBABA_OSS_ENDPOINT), ``named`` (the host of the ``oss://`` location) or
        ``guessed`` (neither: the default endpoint)."""
        endpoint = oss_endpoint(self.oss, output.get("oss_url"))
        if self.oss and self.oss.strip():
            return endpoint, "configured"
        try:
            named = split_oss_url(output.get("oss_url") or "")[1]
        except ValueError:
            named = None
        return endpoint, "named" if named else "guessed"

    async def fetch(self, output: dict[str, Any]) -> bytes:
        """One OSS object, through a URL presigned now (allowed hosts only). What can
        never be read this way is a permanent ``DownloadFailed`` (see ``unreadable``)."""
        endpoint, _ = self._endpoint(output)
        try:
            url = presign_get(
                self.credentials,
                output["bucket"],
                output["key"],
                endpoint=endpoint,
                expires=900,
                now=self.clock(),
            )
        except ValueError as exc:  # a malformed ALIBABA_OSS_ENDPOINT, an unusable location
            raise DownloadFailed(str(exc), permanent=True) from None
        try:
            return await self.delivery.download(url)
        except FileTooLarge:
            name = PurePosixPath(output["key"]).name
            raise DownloadFailed(
                messages.file_too_large(name, MAX_DOWNLOAD_BYTES), permanent=True
            ) from None

    def unreadable(
        self, output: dict[str, Any], error: DownloadRefused | DownloadFailed
    ) -> dict[str, Any]:
        """An output the job wrote but Tolk cannot read: the line the closing message
        shows for it (its ``oss://`` location, why, and what an admin changes). Never the
        presigned URL: it carries a signature."""
        endpoint, how = self._endpoint(output)
        location = f"oss://{output.get('bucket')}/{output.get('key')}"
        found = _HTTP_STATUS.search(str(error))
        status = int(found.group(1)) if found and isinstance(error, DownloadFailed) else None
        if isinstance(error, DownloadRefused):
            host = _netloc(str(error))
            reason = messages.oss_not_allowed(host, endpoint, how)
            fix = messages.oss_not_allowed_fix(host, how)
        elif status in (401, 403):
            reason = messages.oss_refused(status, endpoint, how)
            fix = messages.oss_refused_fix(str(output.get("bucket", "")))
        elif status in (404, 410):
            reason, fix = messages.oss_gone(status), ""
        else:  # a presigned URL in the words loses its query: the signature, the key id
            reason = messages.oss_unreachable(_URL_QUERY.sub(r"\1", str(error)), endpoint, how)
            fix = messages.oss_unreachable_fix(endpoint, how)
        return {"kind": "unread", "location": location, "reason": reason, "fix": fix}

    def final_text(self, task: Task) -> str | None:
        """The closing message: what came out (and what could not be attached), or the
        job's code and message."""
        function = task.request.get("function") or "The job"
        item = task.items[0]
        if item.status == "failed" and item.error:
            return messages.media_failed(
                task.id, function, item.error.get("code", "?"), item.error.get("message", "")
            )
        files = sum(1 for o in item.outputs if o.get("fetch"))
        summary = next((o["summary"] for o in item.outputs if o.get("summary")), None)
        unread = [o for o in item.outputs if o.get("kind") == "unread"]
        if unread:
            return messages.media_done_unread(
                task.id,
                function,
                item.provider_id,
                files,
                [o["location"] for o in unread],
                [o["reason"] for o in unread],
                [o["fix"] for o in unread if o.get("fix")],
                summary,
            )
        return messages.media_done(task.id, function, files, summary)


def _outputs(job: IProductionJob) -> tuple[dict[str, Any], ...]:
    """Images and subtitles become uploads; the rest is listed in the closing message."""
    outputs: list[dict[str, Any]] = []
    others: list[str] = []
    for obj in job.output_files:
        suffix = PurePosixPath(obj.key).suffix.lower()
        kind = FILE_KINDS.get(suffix)
        if kind is None or not obj.bucket:
            others.append(f"oss://{obj.bucket}/{obj.key}")
            continue
        outputs.append(
            {
                "kind": kind,
                "fetch": "oss",
                "bucket": obj.bucket,
                "key": obj.key,
                "oss_url": job.output,
                "filename": PurePosixPath(obj.key).name,
                "comment": PurePosixPath(obj.key).name,
            }
        )
    summary = _summary(job, others)
    if summary:
        outputs.append({"kind": "summary", "summary": summary})
    return tuple(outputs)


def _summary(job: IProductionJob, others: list[str]) -> str | None:
    lines = [f"• `{o}`" for o in others]
    data = job.result.data if job.result else None
    if isinstance(data, dict):
        rest = {k: v for k, v in data.items() if k != "result"}
        if rest:
            text = json.dumps(rest, ensure_ascii=False, indent=1)
            lines.append(f"```{text[:2500]}```")
    return "\n".join(lines) or None


def _netloc(url: str) -> str:
    """``host[:port]`` of a URL (a refused download's), never its query."""
    try:
        return urlsplit(url).netloc or "?"
    except ValueError:
        return "?"
