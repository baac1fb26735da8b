# chatactors: the chat server and its web client on port 8000, data in the /data volume.
# Build: docker build -t chatactors .   Run: docker run -p 8000:8000 -v chat-data:/data chatactors
# Settings are CHATACTORS_* variables (docker run -e CHATACTORS_PORT=9000 -p 9000:9000 ...);
# set the port that way, not with --port, so that the healthcheck knows it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CHATACTORS_HOST=0.0.0.0 \
    CHATACTORS_PORT=8000 \
    CHATACTORS_DATA_DIR=/data \
    CHATACTORS_SHUTDOWN_TIMEOUT_S=5 \
    CHATACTORS_SERVICES_CLOSE_TIMEOUT_S=3

WORKDIR /app
# The server only (no bench/dev extras), at the versions pinned in constraints.txt
# (regenerate it with scripts/constraints after changing dependencies in pyproject.toml).
COPY pyproject.toml README.md constraints.txt ./
COPY chatactors ./chatactors
RUN pip install --constraint constraints.txt . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin chat \
    && mkdir -p /data \
    && chown chat /data

USER chat
VOLUME ["/data"]
EXPOSE 8000

# /healthz answers as long as the process serves; python is there, curl is not.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('CHATACTORS_PORT', '8000'); sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2).status != 200)"]

# SIGTERM (docker stop) shuts down gracefully: queued writes are committed, sockets get 1001,
# and the process exits as soon as nothing is in flight; the timeouts above keep the worst case
# (5 s for requests, 3 s for the store) inside docker stop's 10 s before SIGKILL.
STOPSIGNAL SIGTERM
CMD ["chatactors", "serve"]
