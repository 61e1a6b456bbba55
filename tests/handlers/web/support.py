"""The web routes' ports, of real parts: a ``Desk`` on a SQLite store, ``Links``, the
refine adapter the wiring uses, and a ``WebConfig``; the routes served on loopback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core.desk import Desk
from bot.core.links import Links
from bot.wiring import RefineImages
from handlers.ports import WebConfig

PUBLIC_URL = "https://tolk.example.com"


@dataclass
class Site:
    desk: Desk
    links: Links
    refine: RefineImages
    web_config: WebConfig
    nudges: list[int]
    clock: Any
