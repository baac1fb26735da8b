"""Directory: which node holds which chat, with at most one holder per chat (Orleans' grain
directory on Redis).

Each operation is one Lua script, so Redis runs it atomically; every failure, a refused
command included, is ``ClusterUnavailable``. A lease is a hash
``{node, token}`` under ``chatactors:lease:<chat_id>`` that Redis expires after its TTL. Tokens
come from one counter, ``chatactors:fence``, which never moves backwards: each claim takes
``max(counter + 1, Redis time in µs)``, so tokens keep growing even after a Redis restart that
lost the counter (Redis runs here without persistence), as long as Redis's clock does not jump
back by more than the time between restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import attrs

from chatactors.cluster.errors import ClusterUnavailable
from chatactors.cluster.lease import Lease
from chatactors.cluster.redis import Arg, RedisLink, RedisReplyError, Script
from chatactors.domain.ids import ChatId

log = logging.getLogger(__name__)

KEY_PREFIX = "chatactors:"
FENCE_KEY = KEY_PREFIX + "fence"

# KEYS: lease, fence. ARGV: node, ttl_ms. Returns {1, token} when claimed, {0, holder, token}
# when another node holds it. Re-claiming one's own lease is a new activation: a new token.
_CLAIM = Script(
    """local holder = redis.call('HGET', KEYS[1], 'node')
if holder and holder ~= ARGV[1] then
  return {0, holder, redis.call('HGET', KEYS[1], 'token')}
end
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local token = math.max(tonumber(redis.call('GET', KEYS[2]) or '0') + 1, now_us)
local text = string.format('%.0f', token)
redis.call('SET', KEYS[2], text)
redis.call('HSET', KEYS[1], 'node', ARGV[1], 'token', text)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, text}
"""
)

# KEYS: leases. ARGV: ttl_ms, then each lease's node and token. One 1 (renewed) or 0 (expired or
# held by someone else) per key, in order.
_RENEW_ALL = Script(
    """local renewed = {}
for i, key in ipairs(KEYS) do
  local held = redis.call('HMGET', key, 'node', 'token')
  if held[1] == ARGV[2 * i] and held[2] == ARGV[2 * i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
    renewed[i] = 1
  else
    renewed[i] = 0
  end
end
return renewed
"""
)

# KEYS: lease. ARGV: node, token. 1 if released; 0 if it was no longer this lease.
_RELEASE = Script(
    """if redis.call('HGET', KEYS[1], 'node') == ARGV[1]
   and redis.call('HGET', KEYS[1], 'token') == ARGV[2] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""
)


#: Leases in one script call at most (Redis runs a script alone: keep each one short).
MAX_RENEWALS_PER_CALL = 500


def lease_key(chat_id: ChatId) -> str:
    return f"{KEY_PREFIX}lease:{chat_id}"


@attrs.frozen
class Holder:
    """Who holds a chat, as the directory says now."""

    node_id: str
    token: int


class ChatHeld(Exception):
    """``claim`` found the chat held by another node (forward to it instead)."""

    def __init__(self, chat_id: ChatId, holder: Holder) -> None:
        super().__init__(f"Chat {chat_id!r} is held by node {holder.node_id!r}")
        self.holder = holder


@attrs.frozen
class DirectoryStatistics:
    #: Script calls that renewed leases, and the renewals they carried (a node renews all its
    #: leases together: sent / calls is how many per call).
    renewal_calls: int
    renewals_sent: int


@attrs.define(eq=False)
class Directory:
    """Every method raises ``ClusterUnavailable`` when Redis does not answer in time.

    Renewals are the steady load a node puts on Redis (every chat it holds, three times per
    TTL), so they go out many to a script call (``renew_all``: the node's ``LeaseKeepers``
    renew every lease the node holds together).
    """

    _link: RedisLink
    lease_ttl_s: float
    _renewal_calls: int = 0
    _renewals_sent: int = 0

    def statistics(self) -> DirectoryStatistics:
        return DirectoryStatistics(self._renewal_calls, self._renewals_sent)

    @property
    def _ttl_ms(self) -> int:
        return max(1, round(self.lease_ttl_s * 1000))

    async def claim(self, chat_id: ChatId, node_id: str) -> Lease:
        """Take the chat for ``node_id`` with a new, larger token; ``ChatHeld`` if held."""
        answer: Any = await self._run(
            _CLAIM, keys=[lease_key(chat_id), FENCE_KEY], args=[node_id, self._ttl_ms]
        )
        if answer[0] == 1:
            return Lease(chat_id, node_id, int(answer[1]), self.lease_ttl_s)
        raise ChatHeld(chat_id, Holder(_text(answer[1]), int(answer[2])))

    async def renew(self, lease: Lease) -> bool:
        """Extend the lease by its TTL from about now; False if it expired or another node
        claimed it since (then the owner must stop)."""
        [renewed] = await self.renew_all([lease])
        return renewed

    async def renew_all(self, leases: Sequence[Lease]) -> list[bool]:
        """``renew`` for each lease, in one script call per ``MAX_RENEWALS_PER_CALL``; all
        fail together (``ClusterUnavailable``) if one call does."""
        renewed: list[bool] = []
        for start in range(0, len(leases), MAX_RENEWALS_PER_CALL):
            part = leases[start : start + MAX_RENEWALS_PER_CALL]
            args: list[str | int] = [self._ttl_ms]
            for lease in part:
                args += [lease.node_id, str(lease.token)]
            keys = [lease_key(lease.chat_id) for lease in part]
            answer: Any = await self._run(_RENEW_ALL, keys=keys, args=args)
            self._renewal_calls += 1
            self._renewals_sent += len(part)
            renewed += [each == 1 for each in answer]
        return renewed

    async def release(self, lease: Lease) -> bool:
        """Give the chat up (deactivation); False if it was no longer ours anyway."""
        args = [lease.node_id, str(lease.token)]
        return bool(await self._run(_RELEASE, keys=[lease_key(lease.chat_id)], args=args))

    async def holder(self, chat_id: ChatId) -> Holder | None:
        """Who owns the chat now, or None if nobody does (the next command may activate it)."""
        try:
            node, token = await self._link.execute("HMGET", lease_key(chat_id), "node", "token")
        except RedisReplyError as error:
            raise _refused(error) from error
        if node is None or token is None:
            return None
        return Holder(_text(node), int(token))

    async def _run(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        try:
            return await self._link.run_script(script, keys=keys, args=args)
        except RedisReplyError as error:
            raise _refused(error) from error


def _refused(error: RedisReplyError) -> ClusterUnavailable:
    """Redis refused a directory command (out of memory, a key of another type someone wrote,
    a script it cannot run): to the node the directory is unavailable (503), never an error
    that escapes a chat's activation or its keeper."""
    log.error("Redis refused a directory command: %s", error)
    return ClusterUnavailable()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
