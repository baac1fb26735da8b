"""Certificates for TLS tests, made with the ``openssl`` command line in a temp dir.

A CA, a server certificate it signs for ``localhost`` and ``127.0.0.1`` (so ``127.0.0.2``, which
also reaches the loopback interface, is a host name the certificate does not name), a client
certificate it signs, and a second CA that signed nothing the server presents.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import attrs
import pytest

_DAYS = "2"


@attrs.frozen
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    #: A CA the server's certificate does not chain to.
    other_ca: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _ca(name: str, cwd: Path) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.crt", "-days", _DAYS, "-subj", f"/CN={name}", cwd=cwd)  # fmt: skip


def _signed(name: str, extensions: str, cwd: Path) -> None:
    (cwd / f"{name}.ext").write_text(extensions + "\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=cwd)  # fmt: skip
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", f"{name}.crt", "-days", _DAYS,
             "-extfile", f"{name}.ext", cwd=cwd)  # fmt: skip


def make_certs(directory: Path) -> Certs:
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    _ca("ca", directory)
    _ca("other-ca", directory)
    _signed("server", "subjectAltName=DNS:localhost,IP:127.0.0.1", directory)
    _signed("client", "extendedKeyUsage=clientAuth", directory)
    return Certs(
        ca=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
        other_ca=directory / "other-ca.crt",
    )
