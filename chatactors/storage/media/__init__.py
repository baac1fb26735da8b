"""Uploaded images and audio, as content-addressed files under one directory.

A file's id is ``<sha256 of its bytes>.<extension>``; the extension is chosen from the file's
first bytes (never from what the client claims) and names its content type, so serving needs
no second look at the bytes. Uploads are written to a temporary file in the same directory,
flushed to disk and then renamed, so a crash never leaves a partial file under a real id, and
the same bytes uploaded twice are stored once. All file I/O runs in worker threads.

One job per module: ``formats`` (the accepted types and what an id looks like), ``sniffing``
(a type from a file's first bytes), ``image_size`` (an image's dimensions from its header),
``errors`` (why an upload is refused), ``upload`` (one upload in progress, and what bytes would
be stored as), ``store`` (the directory: uploads, lookups, :func:`~.store.open_media_store`).
"""
