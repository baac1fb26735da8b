"""Where Redis is and how to reach it: the URL's parts, and the TLS settings of ``rediss://``.

Pure values: nothing here connects.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import attrs


@attrs.frozen
class RedisAddress:
    host: str
    port: int
    db: int = 0
    username: str | None = attrs.field(default=None, repr=False)
    password: str | None = attrs.field(default=None, repr=False)
    #: A Unix socket's path (a ``unix://`` URL), used instead of host and port.
    socket_path: str | None = None
    #: ``rediss://``: TLS, the server's certificate checked for ``host``.
    tls: bool = False

    @classmethod
    def from_url(cls, url: str) -> RedisAddress:
        """``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (the same over TLS),
        or for a Redis on this machine ``unix://[[user]:password@]/path/redis.sock[?db=N]``
        (redis-py's forms). ``ValueError`` says what is wrong (never with the password)."""
        parts = urlsplit(url)
        # The URL itself may hold a password: messages show it without.
        shown = url if parts.password is None else url.replace(parts.password, "***", 1)
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        if parts.scheme == "unix":
            query = parse_qs(parts.query)
            db = query.get("db", ["0"])[-1]
            if not parts.path.startswith("/") or parts.hostname:
                raise ValueError(f"a Redis URL for a Unix socket is unix:///its/path: {shown!r}")
            if not db.isdigit():
                raise ValueError(f"a Redis URL's db is a database number: {shown!r}")
            password = query.get("password", [password])[-1]
            return cls("", 0, int(db), username, password, socket_path=parts.path)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(f"a Redis URL starts with redis://, rediss:// or unix://: {shown!r}")
        if not parts.hostname:
            raise ValueError(f"a Redis URL names a host: {shown!r}")
        path = parts.path.strip("/")
        if path and not path.isdigit():
            raise ValueError(f"a Redis URL's path is a database number: {shown!r}")
        try:
            port = parts.port or 6379
        except ValueError:
            raise ValueError(f"a Redis URL's port is a number: {shown!r}") from None
        tls = parts.scheme == "rediss"
        return cls(parts.hostname, port, int(path or 0), username, password, tls=tls)

    @property
    def where(self) -> str:
        """Where Redis is, for messages (never the password)."""
        return self.socket_path or f"{self.host}:{self.port}"


@attrs.frozen
class TlsFiles:
    """The files of a ``rediss://`` connection: whom to trust, and who this client is."""

    #: CA certificates (PEM) the server's certificate must chain to; None: the system's store.
    ca_file: Path | None = None
    #: This client's certificate (PEM), for a server that asks for one (``tls-auth-clients``).
    cert_file: Path | None = None
    #: Its private key (PEM); None: in ``cert_file``.
    key_file: Path | None = None

    def client_context(self) -> ssl.SSLContext:
        """A context that verifies the server's certificate and its host name (TLS 1.2 or
        later). ``OSError`` (``ssl.SSLError`` is one) naming the file that cannot be read or
        used."""
        # The client protocol checks the certificate and the host name; trust is either the
        # system's store or the CA file alone.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            if self.ca_file is None:
                context.load_default_certs()
            else:
                context.load_verify_locations(cafile=str(self.ca_file))
        except OSError as error:
            raise OSError(f"{self.ca_file}: {error.strerror or error}") from error
        try:
            if self.cert_file is not None:
                key = None if self.key_file is None else str(self.key_file)
                context.load_cert_chain(str(self.cert_file), key)
        except OSError as error:
            files = ", ".join(str(f) for f in (self.cert_file, self.key_file) if f is not None)
            raise OSError(f"{files}: {error.strerror or error}") from error
        return context
