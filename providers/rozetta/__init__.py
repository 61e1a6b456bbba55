"""Rozetta (CLASSIII / T-4OO / T-3MT) file translation: client, wire format."""

from providers.rozetta.client import RozettaClient, RozettaKeys
from providers.rozetta.wire import (
    NonceSource,
    TranslateItem,
    Translation,
    choose_poll,
    classify,
    unpack_zip,
)

__all__ = [
    "NonceSource",
    "RozettaClient",
    "RozettaKeys",
    "TranslateItem",
    "Translation",
    "choose_poll",
    "classify",
    "unpack_zip",
]
