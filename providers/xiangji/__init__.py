"""Xiangji (象寄) image / text translation and matting: client, wire format."""

from providers.xiangji.client import XiangjiClient, XiangjiKeys
from providers.xiangji.wire import (
    IMAGE_ENGINES,
    QUOTA_KEY_ATTRS,
    QUOTA_SERVICES,
    TEXT_COST,
    TEXT_ENGINES,
    BatchDetail,
    BatchItem,
    ImageEngine,
    ImageResult,
    MattingResult,
    OcrLine,
    Quota,
    TextTranslation,
    classify,
)

__all__ = [
    "IMAGE_ENGINES",
    "QUOTA_KEY_ATTRS",
    "QUOTA_SERVICES",
    "TEXT_COST",
    "TEXT_ENGINES",
    "BatchDetail",
    "BatchItem",
    "ImageEngine",
    "ImageResult",
    "MattingResult",
    "OcrLine",
    "Quota",
    "TextTranslation",
    "XiangjiClient",
    "XiangjiKeys",
    "classify",
]
