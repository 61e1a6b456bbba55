"""Xiangji's refinement editors (seed 002 parts 九–十一; Xiangji spec, 'Refinement-iframe scheme',
'Refinement editor').

Browser-only: a host page embeds the editor in an iframe, posts it the request ids of
finished results once it loads, and listens for the refined URLs it posts back. This
module knows the protocol — paths, message names, the signed URL fragment — and
nothing of who hosts the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from providers.xiangji.wire import sign

# The editor's UI languages (seed part 九): anything else opens in its default.
EDITOR_LANGUAGES = frozenset({"CHS", "CHT", "ENG", "JPN", "KOR", "ESP", "PTB"})


@dataclass(frozen=True)
class Editor:
    path: str  # under the editor base URL
    ids_message: str  # host → editor: {name, requestIds}
    result_message: str  # editor → host: {name, url, requestId, all}
    signed: bool  # takes CommitTime and the AIGC / text-translation signatures
    single: bool  # refines one image at a time


IMAGE_EDITOR = Editor(
    "/image-editor/", "XJ_IMAGE_EDITOR_REQUESTIDS", "XJ_IMAGE_EDITOR_URL", True, False
)
CUTOUT_EDITOR = Editor("/koutu/", "XJ_KOUTU_REQUESTIDS", "XJ_KOUTU_RESULT", False, True)


@dataclass(frozen=True)
class EditorKeys:
    user_key: str
    aigc_key: str | None = None  # the smart eraser
    text_trans_key: str | None = None  # live text translation while editing


def editor_origin(base_url: str) -> str:
    """The origin the editor's messages come from (and ours are addressed to)."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def editor_url(
    base_url: str, editor: Editor, keys: EditorKeys, *, commit_time: int, lang: str | None
) -> str:
    """The iframe's ``src``. The signatures are computed here, on the server: the user
    key never reaches the browser ('Refinement-iframe scheme':
    ``md5(CommitTime_UserKey_<Key>)``)."""
    params: dict[str, str] = {}
    if lang in EDITOR_LANGUAGES:
        params["lang"] = lang
    if editor.signed and (keys.aigc_key or keys.text_trans_key):
        params["CommitTime"] = str(commit_time)
        if keys.aigc_key:
            params["AigcKeySign"] = sign(commit_time, keys.user_key, keys.aigc_key)
            params["AigcKey"] = keys.aigc_key
        if keys.text_trans_key:
            params["TextTransSign"] = sign(commit_time, keys.user_key, keys.text_trans_key)
            params["TextTransKey"] = keys.text_trans_key
    url = base_url.rstrip("/") + editor.path
    return f"{url}#/?{urlencode(params)}" if params else url
