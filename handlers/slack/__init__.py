"""Slack listeners, one module per surface; ``register_all`` wires them in one place."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp


def register_all(app: AsyncApp) -> None:
    from handlers.slack import (
        actions,
        catalogue,
        cutout,
        glossary,
        home,
        leaving,
        media_job,
        provider_keys,
        reactions,
        refine,
        review,
        shortcuts,
        spend,
        tolk,
        translate,
        translate_doc,
        translate_image,
        uploads,
    )

    surfaces = (
        translate,
        translate_image,
        translate_doc,
        media_job,
        cutout,
        glossary,  # before tolk and uploads: Bolt runs the first listener that matches
        tolk,
        uploads,
        reactions,
        shortcuts,
        home,
        provider_keys,
        leaving,
        actions,
        catalogue,
        refine,
        review,
        spend,
    )
    for surface in surfaces:
        surface.register(app)
