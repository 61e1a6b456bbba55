"""What Alibaba Cloud MPS/MTS intelligent production accepts, as constants and checks
anyone may import: the ``/media-job`` handler validates a command against them before
anything is recorded, and ``providers.mts.wire`` checks again when it builds the request.

The document is ``alibaba-mts.md`` (``/work/shared/providers/``): "Functions, JobParams
and result examples" for the function names and their documented constraints,
"SubmitIProductionJob" for ``Input`` and ``Output``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from providers.oss.presign import split_oss_url

#: The document's list, then the functions newer documentation adds.
FUNCTIONS: tuple[str, ...] = (
    "VideoH2V",
    "VideoDelogo",
    "Cover",
    "VideoClip",
    "ImageH2V",
    "ImageDelogo",
    "CaptionExtraction",
    "VideoDetext",
    "VideoGreenScreenMatting",
    "MusicSegmentDetect",
    "AudioMixing",
    "AudioBeatDetection",
    "ImageCartoonize",
    "AudioQualityAssessment",
    "VideoSplit",
    "ImageMatting",
    "FaceBeauty",
    "SpeechDenoise",
)


def check_function(name: str) -> str:
    """``name`` if it is a documented FunctionName, else ValueError naming close ones."""
    if name in FUNCTIONS:
        return name
    by_lower = {f.lower(): f for f in FUNCTIONS}
    close = [by_lower[name.lower()]] if name.lower() in by_lower else []
    close += [
        by_lower[m]
        for m in difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
        if by_lower[m] not in close
    ]
    hint = f"did you mean {' or '.join(close)}?" if close else f"known: {', '.join(FUNCTIONS)}"
    raise ValueError(f"unknown MTS function {name!r}; {hint}")


def check_job_params(text: str) -> dict[str, Any]:
    """JobParams as a dict, or ValueError saying what is wrong and where."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = ""
        if exc.msg.startswith("Expecting property name"):
            hint = ' (keys need double quotes: {"Model": "gif"})'
        raise ValueError(
            f"JobParams is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}{hint}"
        ) from None
    except (ValueError, RecursionError):  # a number thousands of digits long, or deep nesting
        raise ValueError("JobParams nests too deeply or holds a number too long") from None
    if not isinstance(value, dict):
        raise ValueError(f"JobParams must be a JSON object {{…}}, not {_json_type(value)}")
    return value


def check_function_params(function: str, params: Mapping[str, Any]) -> None:
    """The documented constraints (CaptionExtraction, VideoDetext); others pass."""
    if function == "CaptionExtraction":
        fps = params.get("fps")
        if fps is not None and (type(fps) is not int or not 2 <= fps <= 10):
            raise ValueError("JobParams.fps must be an integer from 2 to 10")
        if "sep" in params and not isinstance(params["sep"], bool):
            raise ValueError("JobParams.sep must be true or false")
        if "roi" in params and not _is_boxes(params["roi"], size=2, count=2):
            raise ValueError("JobParams.roi must be [[top, bottom], [left, right]]")
    if function == "VideoDetext" and "Text" in params:
        text = params["Text"]
        if not _is_boxes(text, size=4) or not 1 <= len(text) <= 2:
            raise ValueError("JobParams.Text must be one or two boxes [[x, y, w, h], …]")


def _is_boxes(value: Any, *, size: int, count: int | None = None) -> bool:
    if not isinstance(value, list) or (count is not None and len(value) != count):
        return False
    return all(
        isinstance(box, list)
        and len(box) == size
        and all(isinstance(n, int | float) and not isinstance(n, bool) for n in box)
        for box in value
    )


def _json_type(value: Any) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def check_location(text: str, what: str) -> str:
    """``Input``/``Output``: an ``oss://`` URL naming a bucket and an object (ValueError)."""
    try:
        _, _, key = split_oss_url(text, strict=True)
    except ValueError as exc:
        raise ValueError(f"{what} must be oss://bucket[.host]/object: {exc}") from None
    if not key or key.endswith("/"):
        raise ValueError(f"{what} names no object (it ends at a folder)")
    return text.strip()
