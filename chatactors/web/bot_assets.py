"""The bot's bundled images and sounds: their media ids, and their import into the media store
at start-up (so that they are served like any upload)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import trio

from chatactors.actors.bot_replies import BOT_ASSETS
from chatactors.storage.media.store import MediaStore
from chatactors.storage.media.upload import describe


def _bot_assets_dir() -> Path:
    return Path(str(resources.files("chatactors"))) / "bot_assets"


@functools.cache
def bot_asset_ids() -> Mapping[str, str]:
    """Each bundled bot file's media id (the files are read once, at start-up)."""
    found: dict[str, str] = {}
    for name in BOT_ASSETS:
        path = _bot_assets_dir() / name
        if path.is_file():
            found[name] = describe(path.read_bytes()).id
    return found


async def import_bot_assets(store: MediaStore) -> Mapping[str, str]:
    imported: dict[str, str] = {}
    for name in bot_asset_ids():
        data = await trio.Path(_bot_assets_dir() / name).read_bytes()
        imported[name] = (await store.add(data)).id
    return imported
