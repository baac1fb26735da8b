"""Logging set-up: readable lines by default, one JSON object per line with ``log_json``.

Records may carry ``chat_id`` and ``user_id`` (``extra={"chat_id": ...}``); both formats show them.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter


class _ContextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"{key}={getattr(record, key)}"
            for key in ("chat_id", "user_id")
            if hasattr(record, key)
        )
        return f"{line} [{context}]" if context else line


def configure_logging(level: str = "info", *, json: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json:
        handler.setFormatter(
            JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", timestamp=True)
        )
    else:
        handler.setFormatter(_ContextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
