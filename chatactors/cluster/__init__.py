"""Cluster mode on Redis: the directory (single activation with fencing), the bus, forwarding.

Layout, each module one job:

- ``redis``: the Redis client, a small library of its own (connections over TCP, TLS or a Unix
  socket; pooled commands, pipelines and scripts, every operation bounded; failures, failover
  replies included, as one "unavailable" error, failing fast while Redis is down; Pub/Sub
  channels and the batching publisher). It imports nothing else from chatactors.
- ``errors``: ``ClusterUnavailable`` (Redis unreachable: 503 + Retry-After), ``LeaseLost``.
- ``lease``: the ``Lease`` value and ``LeaseTimer``, the pure arithmetic of when to renew and
  when a lease must be treated as lost.
- ``directory``: claim/renew/release/owner, atomic Lua scripts, fencing tokens.
- ``keeper``: renews a lease while its actor lives and tells the actor when it is lost.
- ``codec``: events, commands, replies and errors as bytes (msgspec) at the cluster edge.
- ``bus``: chat events published once per chat channel, fanned out to local subscribers.
- ``holders``: ``HolderCache``, who held each chat lately, so forwarding skips most lookups.
- ``forwarder`` / ``command_server``: a command's trip to the holding node and its answer back
  (sent on once when that node no longer holds the chat).
- ``routing``: ``ClusterMailbox``, the actors' ``Mailbox`` in cluster mode: local when held
  here, forwarded otherwise; a subscription listens on the bus here and registers at the owner,
  and again at each new owner that announces itself (``ChatHandle`` works over it unchanged).
- ``placement``: ``LeasePlacement``, the registry's ``Placement``: a lease per actor, renewed
  beside it, and the actor's events published on the bus while the lease is valid.
- ``chat_creations``: a chat created on one node announced on every node's user sockets.
- ``remote_subscribers``: other nodes' sockets registered here; a dead node's go offline.
- ``liveness``: which nodes are gone (they no longer listen on their command channel).
- ``owner_watch``: sockets registered at an owner whose node is gone register again, which
  takes the chat over.
- ``presence_snapshot``: who the cluster was last told is online in a chat, for its next owner.
- ``rate_limits``: ``ClusterRateLimiter``, the send limit held for the cluster (GCRA in Redis).
- ``node``: ``open_cluster_node``, all of the above started and stopped together.

See docs/CLUSTER.md. Serving builds the node when ``redis_url`` is set (web/lifespan.py).

This package uses ``actors``, ``domain`` and ``storage`` values, never ``web``.
"""
