"""Every cluster setting is a flag and a ``CHATACTORS_*`` variable, and reaches the node's parts."""

from __future__ import annotations

import argparse

import pytest
import trio

from chatactors.cluster.node import holder_cache_ttl_s
from chatactors.settings import Settings, SettingsError
from chatactors.settings_parsing import add_flags, read_settings
from chatactors.storage.memory import MemoryStore
from tests.cluster.in_process import open_node
from tests.redis_server import RedisServer

URL = "redis://127.0.0.1:6379/0"


def parse(*flags: str, environ: dict[str, str] | None = None) -> Settings:
    parser = argparse.ArgumentParser()
    add_flags(parser)
    return read_settings(parser.parse_args(list(flags)), {"CHATACTORS_REDIS_URL": URL,
                                                          **(environ or {})})  # fmt: skip


def test_cluster_settings_come_from_flags_and_the_environment() -> None:
    settings = parse(
        "--forward-queue-size", "8", "--redis-max-connections", "3",
        environ={"CHATACTORS_HOLDER_CACHE_TTL_S": "1.5",
                 "CHATACTORS_REDIS_PUBLISH_QUEUE_SIZE": "16",
                 "CHATACTORS_PRESENCE_SNAPSHOT_TTL_S": "60"},
    )  # fmt: skip
    assert (settings.forward_queue_size, settings.redis_max_connections) == (8, 3)
    assert (settings.holder_cache_ttl_s, settings.redis_publish_queue_size) == (1.5, 16)
    assert settings.presence_snapshot_ttl_s == 60
    assert parse("--holder-cache-ttl-s", "none").holder_cache_ttl_s is None


@pytest.mark.parametrize("flags", [("--forward-queue-size", "0"), ("--redis-max-connections", "0")])
def test_a_cluster_queue_or_pool_of_nothing_is_refused(flags: tuple[str, ...]) -> None:
    with pytest.raises(SettingsError, match=flags[0][2:].replace("-", "_")):
        parse(*flags)


def test_the_holder_cache_trusts_half_a_lease_unless_told_and_never_more_than_one() -> None:
    assert holder_cache_ttl_s(Settings(redis_url=URL, lease_ttl_s=4)) == 2
    assert holder_cache_ttl_s(Settings(redis_url=URL, lease_ttl_s=4, holder_cache_ttl_s=1)) == 1
    assert holder_cache_ttl_s(Settings(redis_url=URL, lease_ttl_s=4, holder_cache_ttl_s=9)) == 4


async def test_the_settings_reach_the_nodes_parts(redis_server: RedisServer) -> None:
    with trio.fail_after(20):
        async with open_node(
            redis_server, "node-s", MemoryStore(), redis_max_connections=3,
            holder_cache_ttl_s=1.5, command_timeout_s=2.5,
        ) as node:  # fmt: skip
            assert node.link.max_connections == 3
            assert node.holders.ttl_s == 1.5
            assert node.forwarder.timeout_s == 2.5
            assert node.registry.mailbox is node.mailbox
            assert node.registry.user_feeds is node.creations.feeds
