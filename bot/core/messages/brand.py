"""The glossary checked in translated images (``bot.core.brand_guard``): the warning on an
image's comment when a region breaks it, the note when it could not be checked, and the
line in the closing message. No violation, no words.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.mrkdwn import clip, escape

_FOUND = 200  # characters of a region's translated text quoted back


def brand_term_changed(term: str, found: str, box: Sequence[int] | None) -> str:
    """``⚠ brand term 'Tolk Pro' changed to '托尔克专业版' — region 134,0,1066,249``:
    a protected term of the glossary translated in one region of an image."""
    return f"⚠ brand term '{escape(term)}' changed to '{_found(found)}'{_region(box)}"


def glossary_term_not_used(term: str, expected: str, found: str, box: Sequence[int] | None) -> str:
    """``⚠ glossary: '象寄' should be 'Xiangji', found '…' — region …``: a fixed
    translation of the glossary not used in one region of an image."""
    return (
        f"⚠ glossary: '{escape(term)}' should be '{escape(expected)}', "
        f"found '{_found(found)}'{_region(box)}"
    )


def glossary_unchecked(reason: str) -> str:
    """The image went out, but its text could not be read to check the glossary."""
    why = escape(reason.strip().rstrip(".")) or "no reason given"
    return f"⚠ The glossary could not be checked on this image: its text could not be read ({why})."


def glossary_breaks(count: int, refine: bool) -> str:
    """The closing message's line when ``count`` images break the glossary: fixed by
    hand with Refine where Tolk offers it, else outside Tolk."""
    what = "1 image breaks" if count == 1 else f"{count} images break"
    it = "it" if count == 1 else "them"
    if refine:
        return f"⚠ {what} the glossary — use Refine to fix {it} by hand."
    return (
        f"⚠ {what} the glossary — {'it needs' if count == 1 else 'they need'} fixing outside "
        "Tolk (Refine is not available here)."
    )


def _found(text: str) -> str:
    return clip(escape(" ".join(text.split())), _FOUND)


def _region(box: Sequence[int] | None) -> str:
    if not box:
        return ""
    return " — region " + ",".join(str(int(v)) for v in box)
