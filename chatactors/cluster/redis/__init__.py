"""A small Redis client for Trio: what cluster mode needs, and nothing else.

Supported:

- **Connections** (``connection``): RESP2 over TCP, TLS (``rediss://``: the server's certificate
  checked against the system's CA store or a given CA file, its host name verified; a client
  certificate if the server asks for one) or a Unix socket; ``AUTH`` (password, or ACL user and
  password) and ``SELECT`` from the URL; TCP keepalive; replies parsed by hiredis, in the
  calling task (no task hop).
- **Commands, pipelines and Lua scripts** (``link``): a pool of connections, every operation
  bounded in time; scripts by SHA1, sent whole when Redis lacks them; "quiet" commands sent
  with ``CLIENT REPLY SKIP`` (a write and no read; where Redis refuses ``CLIENT REPLY``, their
  replies are read and dropped).
- **Failures as one error**: a reset, a timeout, a refused password, a TLS handshake
  that fails and the failover replies ``READONLY``, ``LOADING``, ``MASTERDOWN`` and
  ``TRYAGAIN`` all raise the link's ``unavailable`` (a ``RedisUnavailable`` of the caller's
  choosing) and drop the connection; Redis is then known down and operations fail at once but
  for one probe per jittered, doubling backoff (``health``). Other error replies (a wrong
  type, a command an ACL denies: ``NOPERM``) are ``RedisReplyError``, returned or raised, never
  retried.
- **Pub/Sub** (``channels``): one subscribed connection per process, each channel dispatched to
  a synchronous handler, subscribed again after every reconnection; ``listening`` says whether
  every channel is subscribed now. **Publishing** (``publisher``): every PUBLISH from one task,
  in one pipeline per round trip, awaited or queued with a callback; bounded queue.
- **Counters** as Trio's ``statistics()`` gives them: a frozen snapshot per call
  (``LinkStatistics``, ``ChannelsStatistics``, ``PublisherStatistics``).

Not supported: RESP3 and client-side caching; transactions (``MULTI``/``WATCH``: scripts do
that job here); blocking commands (``BLPOP``…) beyond the operation bound; pattern and sharded
subscriptions; Redis Cluster (``MOVED``/``ASK`` redirections, slots); Sentinel discovery (a
primary endpoint that moves, as managed services give, is supported by reconnecting: see
docs/CLUSTER.md). This package imports nothing else from chatactors (``tests/test_layering.py``).
"""

from chatactors.cluster.redis.address import RedisAddress as RedisAddress
from chatactors.cluster.redis.address import TlsFiles as TlsFiles
from chatactors.cluster.redis.channels import Channels as Channels
from chatactors.cluster.redis.channels import ChannelsStatistics as ChannelsStatistics
from chatactors.cluster.redis.channels import open_channels as open_channels
from chatactors.cluster.redis.connection import Arg as Arg
from chatactors.cluster.redis.connection import RedisConnection as RedisConnection
from chatactors.cluster.redis.errors import FAILOVER_REPLIES as FAILOVER_REPLIES
from chatactors.cluster.redis.errors import RedisFailingOver as RedisFailingOver
from chatactors.cluster.redis.errors import RedisRefused as RedisRefused
from chatactors.cluster.redis.errors import RedisReplyError as RedisReplyError
from chatactors.cluster.redis.errors import RedisTlsRejected as RedisTlsRejected
from chatactors.cluster.redis.errors import RedisUnavailable as RedisUnavailable
from chatactors.cluster.redis.link import LinkStatistics as LinkStatistics
from chatactors.cluster.redis.link import RedisLink as RedisLink
from chatactors.cluster.redis.link import Script as Script
from chatactors.cluster.redis.link import check_reachable as check_reachable
from chatactors.cluster.redis.link import open_redis_link as open_redis_link
from chatactors.cluster.redis.publisher import MAX_BATCH as MAX_BATCH
from chatactors.cluster.redis.publisher import Publisher as Publisher
from chatactors.cluster.redis.publisher import PublisherStatistics as PublisherStatistics
