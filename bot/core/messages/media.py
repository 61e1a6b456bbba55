"""Media jobs (``/media-job``, Alibaba MTS intelligent production): acknowledgements,
results, and outputs Tolk could not read from OSS (issue 17, item 7).

``how`` Tolk came to read from an OSS endpoint: "configured" (``ALIBABA_OSS_ENDPOINT``),
"named" (the host the ``oss://`` location names) or "guessed" (it names none: the default).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.mrkdwn import escape, person


def ack_media(task_id: str, function: str, source: str) -> str:
    return f"On it: {function} on `{person(source)}`. Results go in the thread (task `{task_id}`)."


def ack_media_status(task_id: str, job_id: str) -> str:
    return f"Following MTS job `{job_id}`; its results go in the thread (task `{task_id}`)."


def media_parent(task_id: str, user: str, function: str | None, source: str) -> str:
    what = f"{function} on `{person(source)}`" if function else f"MTS job `{person(source)}`"
    return f":clapper: <@{user}> asked for {what} · task `{task_id}`"


def media_done(task_id: str, function: str, files: int, summary: str | None) -> str:
    noun = "1 file" if files == 1 else f"{files} files"
    text = f":white_check_mark: {function} finished — {noun} in this thread (task `{task_id}`)."
    return f"{text}\n{summary}" if summary else text


def media_failed(task_id: str, function: str, code: str, meaning: str) -> str:
    return (
        f":x: {function} failed (task `{task_id}`): MTS error {escape(code)} — {escape(meaning)}."
    )


def no_mts_output() -> str:
    return (
        "MTS needs somewhere to write results: an admin sets `ALIBABA_MTS_OUTPUT` "
        "(e.g. `oss://my-bucket.oss-cn-hangzhou.aliyuncs.com/tolk/`)."
    )


def unknown_mts_job() -> str:
    return "MTS does not know this job (is it an intelligent-production JobId?)"


MEDIA_UNREAD_SHOWN = 20  # outputs listed one by one; the rest are counted


def _oss_code(text: str) -> str:
    """A value shown inside `…`: escaped, and no backtick to end the span early."""
    return escape(text).replace("`", "'")


def _oss_endpoint_said(endpoint: str, how: str) -> str:
    shown = _oss_code(endpoint)
    if how == "guessed":
        return f"no OSS endpoint is set (`ALIBABA_OSS_ENDPOINT`) and the `oss://` location names none, so Tolk guessed `{shown}`"
    return f"no OSS endpoint is set (`ALIBABA_OSS_ENDPOINT`), so Tolk used `{shown}`, the one the `oss://` location names"


def oss_not_allowed(host: str, endpoint: str, how: str) -> str:
    """Why an output on a host Tolk does not download from was not attached."""
    shown = _oss_code(host)
    if how == "configured":
        return f"Tolk does not download from `{shown}` (not in `TOLK_ALLOWED_FILE_HOSTS`)"
    return (
        f"{_oss_endpoint_said(endpoint, how)}, and `{shown}` is not a host Tolk downloads "
        "from (`TOLK_ALLOWED_FILE_HOSTS`)"
    )


def oss_not_allowed_fix(host: str, how: str) -> str:
    if how == "configured":
        return f"add `{_oss_code(host)}` to `TOLK_ALLOWED_FILE_HOSTS`"
    return (
        "set `ALIBABA_OSS_ENDPOINT` to the OSS endpoint of the output bucket's region (e.g. "
        "`oss-cn-shanghai.aliyuncs.com`) and allow that host in `TOLK_ALLOWED_FILE_HOSTS` "
        "(its default, `*.aliyuncs.com`, does)"
    )


def oss_refused(status: int, endpoint: str, how: str) -> str:
    """Why an output OSS would not hand over (401/403) was not attached."""
    reason = f"OSS refused to hand it over (HTTP {status})"
    return reason if how == "configured" else f"{reason}; {_oss_endpoint_said(endpoint, how)}"


def oss_refused_fix(bucket: str) -> str:
    return (
        "give the RAM user of `ALIBABA_ACCESS_KEY_ID` read access (`oss:GetObject`) to "
        f"bucket `{_oss_code(bucket)}`, and check that `ALIBABA_OSS_ENDPOINT` is in that "
        "bucket's region"
    )


def oss_gone(status: int) -> str:
    """Why an output OSS no longer has (404/410) was not attached: nothing to configure."""
    return (
        f"OSS has no such object any more (HTTP {status}): it was moved or deleted "
        "(a lifecycle rule?) after the job"
    )


def oss_unreachable(detail: str, endpoint: str, how: str) -> str:
    """Why an output that cannot be read in any other way was not attached."""
    reason = f"it could not be read: {escape(detail)}"
    return reason if how == "configured" else f"{reason}; {_oss_endpoint_said(endpoint, how)}"


def oss_unreachable_fix(endpoint: str, how: str) -> str:
    if how == "configured":
        return f"check that `ALIBABA_OSS_ENDPOINT` (`{_oss_code(endpoint)}`) is the output bucket's OSS endpoint"
    return "set `ALIBABA_OSS_ENDPOINT` to the output bucket's OSS endpoint"


def media_done_unread(
    task_id: str,
    function: str,
    job_id: str | None,
    files: int,
    locations: Sequence[str],
    reasons: Sequence[str],
    fixes: Sequence[str],
    summary: str | None = None,
) -> str:
    """A job that succeeded with outputs Tolk could not attach: each one's ``oss://``
    location and why (``reasons``, Tolk's own words, one per location), then what an
    admin changes and how to have them brought here afterwards."""
    one = len(locations) == 1
    count = "1 output" if one else f"{len(locations)} outputs"
    if files:
        attached = "1 file" if files == 1 else f"{files} files"
        head = f"{function} succeeded — {attached} in this thread (task `{task_id}`). Tolk"
    else:
        head = f"{function} succeeded (task `{task_id}`), but Tolk"
    lines = [
        f":white_check_mark: {head} could not attach {count}; {'it is' if one else 'they are'} in OSS:"
    ]
    said = list(dict.fromkeys(reasons))
    for where, why in list(zip(locations, reasons, strict=False))[:MEDIA_UNREAD_SHOWN]:
        lines.append(f"• `{_oss_code(where)}`" + ("" if len(said) == 1 else f" — {why}"))
    if len(locations) > MEDIA_UNREAD_SHOWN:
        lines.append(f"• … and {len(locations) - MEDIA_UNREAD_SHOWN} more")
    if len(said) == 1:  # one reason for all: said once
        lines.append(f"Why: {said[0]}.")
    if fixes:
        them = "it" if one else "them"
        again = (
            f" Then `/media-job status {_oss_code(job_id)}` brings {them} here." if job_id else ""
        )
        lines.append(f"To fix it, an admin can {'; '.join(dict.fromkeys(fixes))}.{again}")
    if summary:
        lines.append(summary)
    return "\n".join(lines)
