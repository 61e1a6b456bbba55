"""Xiangji (象寄) image / text translation and matting: client, wire format, emulator."""

from providers.xiangji.client import XiangjiClient, XiangjiKeys
from providers.xiangji.emulator import Received, XiangjiEmulator
from providers.xiangji.wire import (
    BatchDetail,
    BatchItem,
    ImageResult,
    MattingResult,
    OcrLine,
    Quota,
    TextTranslation,
    classify,
)

__all__ = [
    "BatchDetail",
    "BatchItem",
    "ImageResult",
    "MattingResult",
    "OcrLine",
    "Quota",
    "Received",
    "TextTranslation",
    "XiangjiClient",
    "XiangjiEmulator",
    "XiangjiKeys",
    "classify",
]
