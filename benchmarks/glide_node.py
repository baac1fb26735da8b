"""``chatactors serve`` with the cluster's Redis traffic on Valkey GLIDE instead of its own
client: for measuring the two side by side at the cluster's load, never for serving.

GLIDE (``pip install valkey-glide``) runs under Trio through AnyIO. Here it replaces the node's
``RedisLink`` (commands, pipelines as GLIDE batches, scripts through ``invoke_script``) and the
Pub/Sub connection of ``Channels`` (a GLIDE client whose callback dispatches each message, with
dynamic ``subscribe``/``unsubscribe``); everything above them (the publisher's batching, the
directory, the bus) is the node's own code, unchanged. GLIDE multiplexes one connection and
matches replies by order, so it cannot send ``CLIENT REPLY SKIP``: a quiet publish is an
ordinary one here.

Usage (as ``chatactors serve``): .venv/bin/python benchmarks/glide_node.py serve [options]
(``benchmarks/redis_client_cluster.py`` runs it beside the own client).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from glide import (  # type: ignore[import-not-found,unused-ignore]  # noqa: E402  # optional
    Batch,
    GlideClient,
    GlideClientConfiguration,
    NodeAddress,
    ProtocolVersion,
    RequestError,
)
from glide import Script as GlideScript  # noqa: E402

from chatactors.cluster import node  # noqa: E402
from chatactors.cluster.errors import ClusterUnavailable, single_errors  # noqa: E402
from chatactors.cluster.redis import (  # noqa: E402
    Arg,
    Channels,
    Publisher,
    RedisAddress,
    RedisReplyError,
    Script,
)


def _config(address: RedisAddress, timeout_s: float, **extra: Any) -> Any:
    return GlideClientConfiguration(
        [NodeAddress(address.host, address.port)],
        request_timeout=int(timeout_s * 1000),
        database_id=address.db or None,
        **extra,
    )


def _reply(value: Any) -> Any:
    if isinstance(value, RequestError):
        return RedisReplyError(str(value))
    if isinstance(value, dict):  # GLIDE makes maps of some replies (PUBSUB NUMSUB), whatever
        return [item for pair in value.items() for item in pair]  # the protocol: flat, as RESP2
    return value


@attrs.define(eq=False)
class GlideLink:
    """What the node asks of ``RedisLink``, on one GLIDE client."""

    address: RedisAddress
    timeout_s: float
    _client: Any
    unavailable: type[ClusterUnavailable] = ClusterUnavailable
    down: bool = False
    failures: int = 0
    fast_failures: int = 0
    outages: int = 0
    connects: int = 0
    _scripts: dict[str, Any] = attrs.field(factory=dict)

    async def execute(self, *args: Arg) -> Any:
        [reply] = await self.execute_many([args])
        if isinstance(reply, RedisReplyError):
            raise reply
        return reply

    async def execute_many(
        self, commands: Sequence[Sequence[Arg]], quiet: Sequence[bool] = ()
    ) -> list[Any]:
        try:
            with trio.fail_after(self.timeout_s):
                if len(commands) == 1:
                    try:
                        reply = await self._client.custom_command([*map(_arg, commands[0])])
                        return [_reply(reply)]
                    except RequestError as error:
                        if _transport(error):
                            raise
                        return [RedisReplyError(str(error))]
                batch = Batch(is_atomic=False)
                for command in commands:
                    batch.custom_command([*map(_arg, command)])
                replies = await self._client.exec(batch, raise_on_error=False)
                return [_reply(reply) for reply in replies]
        except (trio.TooSlowError, RequestError) as error:
            self.failures += 1
            raise ClusterUnavailable() from error

    async def run_script(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        glide_script = self._scripts.get(script.sha1)
        if glide_script is None:
            glide_script = self._scripts[script.sha1] = GlideScript(script.source)
        try:
            with trio.fail_after(self.timeout_s):
                return await self._client.invoke_script(
                    glide_script, keys=[*map(_arg, keys)], args=[*map(_arg, args)]
                )
        except trio.TooSlowError as error:
            self.failures += 1
            raise ClusterUnavailable() from error
        except RequestError as error:
            if _transport(error):
                self.failures += 1
                raise ClusterUnavailable() from error
            raise RedisReplyError(str(error)) from None

    async def aclose(self) -> None:
        await self._client.close()


def _arg(value: Arg) -> str | bytes:
    return value if isinstance(value, str | bytes) else str(value)


def _transport(error: RequestError) -> bool:
    return type(error).__name__ in ("TimeoutError", "ConnectionError", "ClosingError")


@asynccontextmanager
async def open_glide_link(url: str, *, timeout_s: float, tls: Any = None) -> AsyncIterator[Any]:
    address = RedisAddress.from_url(url)
    # RESP2, so that replies have the shapes the node's code reads (RESP3 makes maps of some).
    client = await GlideClient.create(_config(address, timeout_s, protocol=ProtocolVersion.RESP2))
    link = GlideLink(address, timeout_s, client)
    try:
        yield link
    finally:
        with trio.CancelScope(shield=True):
            await link.aclose()


@attrs.define(eq=False)
class GlideChannels(Channels):
    """``Channels`` whose Pub/Sub connection is a GLIDE client (it resubscribes by itself)."""

    _listener: Any = None

    @property
    def listening(self) -> bool:
        return self._listener is not None

    def on_message(self, message: Any, context: Any) -> None:
        self._dispatch([b"message", _bytes(message.channel), _bytes(message.message)])

    async def listen(self, channel: str, handler: Any) -> None:
        self._handlers[channel.encode()] = handler
        try:
            await self._listener.subscribe({channel}, timeout_ms=int(self._link.timeout_s * 1000))
        except Exception as error:
            self._handlers.pop(channel.encode(), None)
            raise ClusterUnavailable() from error

    async def unlisten(self, channel: str) -> None:
        self._handlers.pop(channel.encode(), None)
        try:
            await self._listener.unsubscribe({channel}, timeout_ms=int(self._link.timeout_s * 1000))
        except Exception as error:
            raise ClusterUnavailable() from error


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


@asynccontextmanager
async def open_glide_channels(link: Any) -> AsyncIterator[Channels]:
    await link.execute("PING")
    channels = GlideChannels(link, Publisher.open(link))
    subscriptions = GlideClientConfiguration.PubSubSubscriptions({}, channels.on_message, None)
    listener = await GlideClient.create(
        _config(link.address, link.timeout_s, pubsub_subscriptions=subscriptions)
    )
    channels._listener = listener
    try:
        with single_errors():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(channels.publisher.run)
                try:
                    yield channels
                finally:
                    nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            await listener.close()


if __name__ == "__main__":
    import os

    if os.environ.get("GLIDE_LOG"):
        from glide import Logger, LogLevel  # type: ignore[import-not-found,unused-ignore]

        Logger.set_logger_config(LogLevel.WARN)
    node.open_cluster_link = open_glide_link  # type: ignore[assignment]
    node.open_channels = open_glide_channels  # type: ignore[assignment]
    from chatactors.cli import main

    sys.exit(main(sys.argv[1:]))
