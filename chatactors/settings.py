"""Every limit, delay and path: one field of the frozen ``Settings``, with its default and meaning.

This module only defines them (and the rules between them, checked when a ``Settings`` is made).
Each field ``name`` is read from the flag ``--name-with-dashes`` and from ``CHATACTORS_NAME``, a
flag over the environment over the default: how, in settings_parsing.py. Units are in the names.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal, TypeVar

import attrs

from chatactors.domain.rules import Limits

MiB = 1024 * 1024
#: The metadata key of each field's one-line meaning.
HELP = "help"
T = TypeVar("T")


def setting(default: T, help: str, *, secret: bool = False) -> T:
    """A field with its default and its one-line meaning (``chatactors serve --help``); a
    ``secret`` one is left out of repr, which could end in a log with its password."""
    # attrs.field's declared type is the default's type: the field's value type for mypy.
    field: T = attrs.field(default=default, repr=not secret, metadata={HELP: help})
    return field


@attrs.frozen(kw_only=True)
class Settings:
    # Serving
    host: str = setting("0.0.0.0", "address to listen on")
    port: int = setting(8000, "TCP port to listen on (0: any free port)")
    public_url: str = setting(
        "",
        "base URL of media URLs, as clients reach the server (none: http://localhost:PORT)",
    )
    bot_images: Literal["self", "https"] = setting(
        "self", "the bot's image URLs: self (served here, offline) or https (Next.js <Image>)"
    )
    log_level: str = setting("info", "debug, info, warning or error")
    log_json: bool = setting(False, "log one JSON object per line")
    shutdown_timeout_s: float = setting(
        10.0,
        "on SIGTERM/SIGINT, the longest wait for requests and sockets to finish",
    )
    services_close_timeout_s: float = setting(
        10.0,
        "after serving, the longest wait for actors and the store to finish their queues",
    )
    readiness_timeout_s: float = setting(
        0.9, "/readyz answers 503 if the store does not answer within this"
    )
    retry_after_s: float = setting(1.0, "the Retry-After of a 503 (overloaded or unavailable)")
    #: Every socket keeps hundreds of long-lived objects that each full collection walks; a
    #: higher threshold (and freezing what exists at start-up) cut the collector's share of
    #: the CPU from about a fifth to little (BENCHMARKS.md).
    gc_gen0_threshold: int = setting(
        50_000,
        "allocations between young-generation garbage collections (0: Python's default, 700)",
    )
    #: With that threshold an idle server would never collect, and the reference cycles of
    #: closed connections would keep their memory.
    memory_allocator: Literal["malloc", "pymalloc"] = setting(
        "malloc",
        "malloc: the C library's, so memory freed after a burst goes back to the OS; "
        "pymalloc: Python's (a little faster, keeps it)",
    )
    gc_collect_interval_s: float = setting(
        30.0,
        "a full garbage collection at least this often, even when idle, then freed memory "
        "back to the OS (0: never)",
    )

    # Storage
    store: Literal["sqlite", "postgres", "memory"] = setting(
        "sqlite",
        "sqlite (durable, in data_dir), postgres (shared, database_url) or memory (keeps nothing)",
    )
    data_dir: Path = setting(Path("data"), "directory of the SQLite database and uploaded files")
    database_url: str = setting(
        "", "for store=postgres: postgresql://user:password@host:port/database", secret=True
    )
    write_batch_max: int = setting(512, "writes committed together at most (group commit)")
    write_queue_size: int = setting(
        2048, "writes waiting for the store's writer at most; actors wait for room beyond"
    )
    #: A hung store (a paused PostgreSQL) answers nothing and no TCP timeout fires; past this a
    #: call is given up on: 503 if nothing was sent, 504 if a write was sent but never
    #: confirmed. PostgreSQL's own statement_timeout and lock_timeout are set to 80% and 50%.
    store_timeout_s: float = setting(
        5.0,
        "the longest one store call (a commit, a read) may take: then 503, or 504 if a write "
        "went out unconfirmed (0: no bound)",
    )

    # Actors
    inbox_size: int = setting(256, "commands queued for one chat's actor at most")
    inbox_wait_s: float = setting(
        2.0, "how long a request waits for room in a full inbox before 503"
    )
    command_timeout_s: float = setting(
        10.0, "how long a request waits for the actor's answer before 503"
    )
    idle_timeout_s: float = setting(
        600.0, "a chat's actor stops after this long without subscribers or commands"
    )
    history_window: int = setting(500, "recent messages an actor keeps in memory")
    idempotency_window: int = setting(
        1000, "recent client_message_ids remembered per chat for idempotent sends"
    )
    subscriber_queue_size: int = setting(
        1024, "events queued for one socket; a socket further behind is dropped (4008)"
    )
    max_history_page: int = setting(10_000, "messages in one GET .../messages page at most")
    max_search_results: int = setting(100, "results in one GET /search page at most")
    max_replay: int = setting(5000, "messages replayed to a socket resuming with after_seq at most")
    crash_backoff_s: float = setting(1.0, "a crashed chat's actor restarts no sooner than this")

    # Cluster (docs/CLUSTER.md): off unless redis_url is given
    redis_url: str = setting(
        "",
        "redis://host:port/db (rediss:// for TLS, or unix:///path/redis.sock?db=N) "
        "turns cluster mode on: Redis is the directory and the bus",
        secret=True,
    )
    redis_timeout_s: float = setting(
        1.0,
        "the longest one Redis operation may take, connecting included: then Redis counts as "
        "down (503) until it answers again",
    )
    redis_ca_file: str = setting(
        "", "rediss://: CA certificates (PEM) to verify Redis with (none: the system's store)"
    )
    redis_cert_file: str = setting(
        "", "rediss://: this node's client certificate (PEM), for a Redis that asks for one"
    )
    redis_key_file: str = setting(
        "", "rediss://: the client certificate's private key (PEM; none: in redis_cert_file)"
    )
    node_id: str = setting("", "this node's name in the cluster, unique (none: host:pid)")
    lease_ttl_s: float = setting(
        5.0, "a chat's lease lives this long unrenewed: a dead node's chats move after it"
    )
    workers: int = setting(1, "server processes on one port, each a cluster node (>1: redis_url)")
    holder_cache_ttl_s: float | None = setting(
        None,
        "how long a node trusts who holds a chat without asking Redis (none: half of "
        "lease_ttl_s; at most lease_ttl_s; 0: ask every time)",
    )
    forward_queue_size: int = setting(
        1024, "commands other nodes forwarded here, queued at most; beyond, their sender gets 503"
    )
    owner_queue_size: int = setting(
        4096,
        "events a chat's owner may have waiting for Redis; beyond, it gives the chat up (503, "
        "the chat moves)",
    )
    redis_max_connections: int = setting(
        64, "Redis connections in use at once at most; operations wait for one within the timeout"
    )
    redis_publish_queue_size: int = setting(
        4096, "batches of PUBLISHes waiting for Redis at most; beyond, 503 at once"
    )
    redis_backoff_max_s: float = setting(
        1.0, "while Redis is down, the longest pause between two connection attempts (jittered)"
    )
    presence_snapshot_ttl_s: float = setting(
        86_400.0,
        "a chat's presence snapshot in Redis (handed to its next owner) expires this long after "
        "its last change",
    )
    rate_limit_fallback_s: float = setting(
        1.0,
        "cluster mode: after Redis failed a rate-limit check, sends are limited per node this "
        "long before Redis is asked again",
    )

    # Presence
    typing_timeout_s: float = setting(10.0, "typing falls back to online after this")
    #: A page reload or a phone switching networks reconnects within a second or two; 5 s
    #: covers that with room to spare, while a user who really left shows offline soon
    #: enough (about a lease, so a dead node's users go offline on the same scale).
    presence_grace_s: float = setting(
        5.0,
        "a user whose last socket closed goes offline this much later unless one reconnects "
        "(a reload: no flash; 0: at once)",
    )

    # The bot
    bot_enabled: bool = setting(True, "the bot answers in every chat")
    bot_delay_min_s: float = setting(2.0, "the bot's shortest pause before each step")
    bot_delay_max_s: float = setting(4.0, "the bot's longest pause before each step")
    bot_seed: int | None = setting(None, "seed of the bot's choices (none: random)")

    # Input limits
    max_id_length: int = setting(128, "characters in a user, chat or client message id at most")
    max_participants: int = setting(256, "participants of one chat at most")
    max_title_chars: int = setting(200, "characters of a chat's title at most")
    max_content_chars: int = setting(8 * MiB, "characters of one message's content at most")
    #: Slack allows 23 and Discord 20 per message: enough for any real conversation, while a
    #: message's state (sent whole with every change) stays small.
    max_reaction_keys: int = setting(20, "distinct reaction emoji on one message at most")
    max_body_bytes: int = setting(
        12 * MiB, "bytes of a request body at most (uploads: the media limits)"
    )
    body_timeout_s: float = setting(
        60.0, "a request body (uploads aside) must arrive whole within this, else 408 (0: no limit)"
    )
    ws_max_message_bytes: int = setting(
        12 * MiB, "bytes of one WebSocket message from a client at most"
    )
    ws_ping_interval_s: float = setting(
        25.0,
        "WebSocket keepalive pings; a peer silent for 2.5 intervals is closed (0: no pings)",
    )
    write_timeout_s: float = setting(
        30.0,
        "a connection whose peer reads nothing of what waits to go out for this long is reset "
        "(0: never)",
    )
    max_connections_per_client: int = setting(
        1000,
        "connections open at once from one IP address, at most; more are reset at once "
        "(0: no bound; behind a proxy every client has its address)",
    )
    ws_close_timeout_s: float = setting(
        2.0,
        "how long closing a socket may take before its connection is reset (peer not reading)",
    )
    #: Events that arrive meanwhile share the next frame, so a busy room costs one frame per
    #: socket per interval instead of one per event (Centrifugo's ``write_delay``).
    ws_v1_write_delay_s: float = setting(
        0.0, "chatactors.v1 sockets: least time between two event frames (0: send at once)"
    )
    ws_v1_max_pipelined: int = setting(
        64, "chatactors.v1 sockets: commands read ahead of their answers"
    )
    ws_user_max_chats: int = setting(
        1000, "/ws (one socket per user): chats one socket carries at most"
    )

    # Media
    max_image_bytes: int = setting(10 * MiB, "bytes of an uploaded image at most")
    max_audio_bytes: int = setting(25 * MiB, "bytes of an uploaded audio file at most")
    #: 25 MiB at 128 kbit/s (a poor 3G or EDGE uplink) takes 27 minutes: within the cap.
    upload_timeout_s: float = setting(
        1800.0, "an upload must arrive whole within this, else 408 (0: no limit)"
    )
    upload_grace_s: float = setting(
        60.0, "an upload may arrive at any pace this long; then upload_min_bytes_per_s applies"
    )
    #: A budget, not a rate at each moment: a stall (a tunnel, a network handover) is fine
    #: while the bytes sent before it cover it; a trickle (one byte a minute) is not.
    upload_min_bytes_per_s: int = setting(
        4096,
        "an upload behind this pace gets 408: by t s, (t - upload_grace_s) x this bytes "
        "(0: no minimum)",
    )

    # Access control (off by default so that reference clients keep working)
    auth_enabled: bool = setting(False, "require bearer tokens (JWT HS256); see SECURITY.md")
    auth_secret: str = setting("", "the token signing secret, 32 characters at least", secret=True)
    auth_token_ttl_s: float = setting(
        7 * 24 * 3600.0, "lifetime of tokens made by `chatactors token`"
    )
    rate_limit_per_s: float = setting(
        20.0, "messages a user may send per second on average (with access control)"
    )
    rate_limit_burst: int = setting(60, "messages a user may send at once above the rate")
    rate_limit_max_users: int = setting(
        100_000, "users whose send rate is remembered; the least recent are forgotten"
    )
    cors_origins: str = setting(
        "*", "comma-separated origins allowed to call the API from a browser"
    )

    def __attrs_post_init__(self) -> None:
        # A negative size or delay would fail later, far from its cause (say, in every socket).
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            if is_number and field.name != "bot_seed" and value < 0:
                raise SettingsError(
                    f"invalid value {value!r} for {field.name}: must be >= 0", setting=field.name
                )
        if self.store == "postgres" and not self.database_url:
            raise SettingsError("store=postgres needs database_url (postgresql://...)")
        if self.workers > 1 and not self.redis_url:
            raise SettingsError("workers > 1 needs redis_url: each worker is a cluster node")
        if self.redis_url and self.store == "memory":
            raise SettingsError("cluster mode needs a shared store: sqlite or postgres")
        if self.redis_url and self.lease_ttl_s <= 0:
            raise SettingsError("lease_ttl_s must be > 0", setting="lease_ttl_s")
        if self.redis_url and self.redis_timeout_s <= 0:
            raise SettingsError("redis_timeout_s must be > 0", setting="redis_timeout_s")
        for size in ("forward_queue_size", "owner_queue_size", "redis_max_connections",
                     "redis_publish_queue_size"):  # fmt: skip
            if self.redis_url and getattr(self, size) < 1:
                raise SettingsError(f"{size} must be >= 1", setting=size)
        tls_files = self.redis_ca_file or self.redis_cert_file or self.redis_key_file
        if tls_files and not self.redis_url.startswith("rediss://"):
            raise SettingsError("redis_ca_file, redis_cert_file and redis_key_file need rediss://")
        if self.redis_key_file and not self.redis_cert_file:
            raise SettingsError("redis_key_file needs redis_cert_file")

    @property
    def limits(self) -> Limits:
        return Limits(
            max_id_length=self.max_id_length,
            max_participants=self.max_participants,
            max_content_chars=self.max_content_chars,
            max_title_chars=self.max_title_chars,
        )

    @property
    def cluster_node_id(self) -> str:
        return self.node_id or f"{socket.gethostname()}:{os.getpid()}"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://localhost:{self.port}").rstrip("/")


class SettingsError(ValueError):
    """A value or a combination of values refused; the message names the settings."""

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        #: The one setting refused, if it is one (the parser adds where its value came from).
        self.setting = setting
