"""The media routes: which URL goes to which handler, and their limits. Uploads
(web/media_upload.py) and serving (web/media_serving.py) have a module each; the media store is
part of the app's :class:`Services` (web/services.py), outside the chat actors: media is not
chat state. See docs/MEDIA.md.
"""

from __future__ import annotations

from quart import Blueprint, Quart
from werkzeug.exceptions import RequestEntityTooLarge

from chatactors.settings import Settings
from chatactors.web import media_serving, media_upload
from chatactors.web.connection import UPLOAD_MAX_BYTES_KEY
from chatactors.web.services import MEDIA_PATH

blueprint = Blueprint("media", __name__)
blueprint.add_url_rule(MEDIA_PATH, view_func=media_upload.upload_media, methods=["POST"])
blueprint.add_url_rule(
    f"{MEDIA_PATH}/<media_id>", view_func=media_serving.get_media, methods=["GET"]
)
# A body over POST /media's own limit (its declared length, or the bytes sent).
blueprint.register_error_handler(RequestEntityTooLarge, media_upload.body_too_large)


def install(app: Quart, settings: Settings) -> None:
    """Register the media routes on the app, with the body limit of ``POST /media``: the
    largest file limit plus room for the multipart framing."""
    app.register_blueprint(blueprint)
    app.config[UPLOAD_MAX_BYTES_KEY] = (
        max(settings.max_image_bytes, settings.max_audio_bytes) + media_upload.MULTIPART_SLACK_BYTES
    )
