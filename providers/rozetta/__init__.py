"""Rozetta (CLASSIII / T-4OO / T-3MT) file translation: client, wire format, emulator."""

from providers.rozetta.client import RozettaClient, RozettaKeys
from providers.rozetta.emulator import Received, RozettaEmulator
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
    "Received",
    "RozettaClient",
    "RozettaEmulator",
    "RozettaKeys",
    "TranslateItem",
    "Translation",
    "choose_poll",
    "classify",
    "unpack_zip",
]
