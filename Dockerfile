# chatactors: the chat server and its web client on port 8000, data in the /data volume.
# Build: docker build -t chatactors .   Run: docker run -p 8000:8000 -v chat-data:/data chatactors
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CHATACTORS_HOST=0.0.0.0 \
    CHATACTORS_PORT=8000 \
    CHATACTORS_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY chatactors ./chatactors
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin chat \
    && mkdir -p /data \
    && chown chat /data

USER chat
VOLUME ["/data"]
EXPOSE 8000

# /healthz answers as long as the process serves; python is there, curl is not.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]

# SIGTERM (docker stop) shuts down gracefully: queued writes are committed, sockets get 1001.
STOPSIGNAL SIGTERM
CMD ["chatactors", "serve"]
