"""What Alibaba Cloud machine translation accepts and sends, as constants and checks
anyone may import — the Slack handlers validate a command against them before anything
is recorded, and ``providers.alibaba.wire`` builds its requests on them.

The document is ``alibaba-mt.md`` (``/work/shared/providers/``): "CreateDocTranslateTask"
for the scenes, "Limits" for the file types and size, "Document callback (CallbackUrl)"
for what Alibaba POSTs back and from where.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The ``Scene`` a document translation may name.
SCENES = ("general", "title", "description", "message", "medical", "social", "tech")
#: What document translation accepts, by file extension.
_DOC_TYPES = "doc docx xls xlsx csv ppt pptx txt srt html htm xml xhtml json xliff tmx dita md"
DOC_TYPES = frozenset([*_DOC_TYPES.split(), "markdown", "idml", "pdf"])
MAX_DOC_BYTES = 50 * 1024 * 1024
#: Where Alibaba's callbacks come from.
CALLBACK_SOURCE_IPS = (
    "59.82.61.52",
    "203.119.241.30",
    "203.119.241.98",
    "59.82.84.90",
    "203.119.241.56",
    "59.82.61.75",
)


@dataclass(frozen=True)
class CallbackNotice:
    """What Alibaba POSTs to ``CallbackUrl``. Only a hint: the status query that follows
    is the truth."""

    task_id: str
    status: str
    error_code: str | None
    file_url: str | None


def parse_callback(body: Any) -> CallbackNotice | None:
    """A callback body as a notice, or None when it is not one (no ``task_id``)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("task_id"), str):
        return None
    code = body.get("errCode")
    url = body.get("translateFileUrl")
    return CallbackNotice(
        task_id=body["task_id"],
        status=str(body.get("status") or ""),
        error_code=None if code in (None, 200, "200") else str(code),
        file_url=str(url) if url not in (None, "") else None,
    )
