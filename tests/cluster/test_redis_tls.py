"""``rediss://``: Debian's redis-server with TLS only, certificates made by the test with openssl.

The right CA: commands, scripts and Pub/Sub work, connections are pooled as over plain TCP.
A certificate from another CA (or the system's store, which does not know the test's CA), or
one for another host: refused, with the reason; ``chatactors serve`` then exits 1 saying why
in one line. A Redis asking for a client certificate: served with one, not without; and a node
process serves chats over it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from chatactors.cluster.redis import (
    RedisTlsRejected,
    RedisUnavailable,
    Script,
    TlsFiles,
    open_channels,
    open_redis_link,
)
from tests.cluster.conftest import LINK_TIMEOUT_S
from tests.cluster.nodes import new_chat, node_args
from tests.harness.server_process import open_server_process, serve_command
from tests.harness.waiting import wait_until_async
from tests.redis_server import RedisServer, start_redis_server
from tests.tls_certs import Certs, make_certs


@pytest.fixture(name="certs", scope="module")
def _certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(name="tls_redis", scope="module")
def _tls_redis(certs: Certs) -> Iterator[RedisServer]:
    server = start_redis_server(certs)
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(name="mtls_redis", scope="module")
def _mtls_redis(certs: Certs) -> Iterator[RedisServer]:
    server = start_redis_server(certs, auth_clients=True)
    try:
        yield server
    finally:
        server.remove()


async def refusal(url: str, tls: TlsFiles) -> RedisTlsRejected:
    """The TLS refusal a link to ``url`` meets on its first command."""
    async with open_redis_link(url, timeout_s=LINK_TIMEOUT_S, tls=tls) as link:
        with trio.fail_after(LINK_TIMEOUT_S * 5), pytest.raises(RedisUnavailable) as raised:
            await link.execute("PING")
    cause = raised.value.__cause__
    assert isinstance(cause, RedisTlsRejected), repr(cause)
    return cause


async def test_with_the_right_ca_commands_scripts_and_pub_sub_work(
    tls_redis: RedisServer, certs: Certs
) -> None:
    tls = TlsFiles(ca_file=certs.ca)
    async with open_redis_link(tls_redis.url, timeout_s=LINK_TIMEOUT_S, tls=tls) as link:
        assert await link.execute("SET", "over", "tls") == b"OK"
        assert await link.execute("GET", "over") == b"tls"
        assert await link.run_script(Script("return #KEYS + ARGV[1]"), ["k"], [41]) == 42
        # One connection, pooled and used again, as over plain TCP (nothing a TLS session
        # ticket leaves readable makes it look closed).
        for _ in range(5):
            assert await link.execute("PING") == b"PONG"
        assert link.statistics().connects == 1
        async with open_channels(link) as channels:
            heard: list[bytes] = []
            await channels.listen("secret", heard.append)
            assert await channels.publish("secret", b"hello") == 1
            await wait_until_async(lambda: bool(heard), LINK_TIMEOUT_S * 5, "the message heard")
        assert heard == [b"hello"]


async def test_a_certificate_the_client_does_not_trust_is_refused(
    tls_redis: RedisServer, certs: Certs
) -> None:
    other_ca = await refusal(tls_redis.url, TlsFiles(ca_file=certs.other_ca))
    assert "certificate" in other_ca.reason  # "unable to get local issuer certificate"
    # Without a CA file, the system's store: it does not know the test's CA either.
    system = await refusal(tls_redis.url, TlsFiles())
    assert "certificate" in system.reason


async def test_a_certificate_for_another_host_is_refused(
    tls_redis: RedisServer, certs: Certs
) -> None:
    elsewhere = tls_redis.url.replace("localhost", "127.0.0.2")
    refused = await refusal(elsewhere, TlsFiles(ca_file=certs.ca))
    assert "mismatch" in refused.reason  # "IP address mismatch, certificate is not valid..."
    # The address the certificate names is fine.
    by_ip = tls_redis.url.replace("localhost", "127.0.0.1")
    async with open_redis_link(by_ip, timeout_s=LINK_TIMEOUT_S, tls=TlsFiles(certs.ca)) as link:
        assert await link.execute("PING") == b"PONG"


async def test_a_redis_asking_for_a_client_certificate(
    mtls_redis: RedisServer, certs: Certs
) -> None:
    with_cert = TlsFiles(certs.ca, cert_file=certs.client_cert, key_file=certs.client_key)
    async with open_redis_link(mtls_redis.url, timeout_s=LINK_TIMEOUT_S, tls=with_cert) as link:
        assert await link.execute("PING") == b"PONG"
    # Without one, the server ends the connection after the handshake (TLS 1.3 sends the
    # client's certificate last): an alert, or just a reset, which is all the client may see.
    async with open_redis_link(
        mtls_redis.url, timeout_s=LINK_TIMEOUT_S, tls=TlsFiles(certs.ca)
    ) as link:
        with trio.fail_after(LINK_TIMEOUT_S * 5), pytest.raises(RedisUnavailable):
            await link.execute("PING")


@pytest.mark.parametrize(
    ("mistake", "said"),
    [
        ("unknown CA", "failed TLS verification (self-signed certificate in certificate chain)"),
        ("another host", "failed TLS verification (IP address mismatch"),
        ("no CA file", "the Redis TLS files cannot be used ("),
    ],
)
def test_serving_refuses_an_untrusted_redis_in_one_line(
    tls_redis: RedisServer, certs: Certs, tmp_path: Path, mistake: str, said: str
) -> None:
    ca, url = certs.ca, tls_redis.url
    if mistake == "unknown CA":
        ca = certs.other_ca
    elif mistake == "another host":
        url = url.replace("localhost", "127.0.0.2")
    else:
        ca = tmp_path / "missing.pem"
    done = subprocess.run(
        serve_command("--redis-url", url, "--redis-ca-file", str(ca), data_dir=tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line.startswith("chatactors serve: ")
    assert said in last_line
    if mistake == "no CA file":
        assert "missing.pem" in last_line
    assert "Traceback" not in done.stderr


@pytest.mark.slow
async def test_a_node_serves_over_tls_with_a_client_certificate(
    mtls_redis: RedisServer, certs: Certs, tmp_path: Path
) -> None:
    tls_args = ("--redis-ca-file", str(certs.ca), "--redis-cert-file", str(certs.client_cert),
                "--redis-key-file", str(certs.client_key))  # fmt: skip
    with trio.fail_after(60):
        async with (
            open_server_process(*node_args(mtls_redis, "a", *tls_args), data_dir=tmp_path) as a,
            a.http() as client,
        ):
            chat_id = await new_chat(client)
            body = {"user_id": "ann", "type": "text", "content": "over TLS"}
            posted = await client.post(f"/chats/{chat_id}/messages", json=body)
            assert posted.status_code == 200, posted.text
            assert (await client.get("/readyz")).status_code == 200
