"""Cluster mode: several processes (nodes) serve the same chats, with Redis between them.

Redis is the directory (which node runs each chat's actor: a lease) and the bus (Pub/Sub
between nodes). Read the story in this order; each module named is one step of it.

**Where a command goes.** A route's ``ChatHandle`` submits to the node's ``ClusterMailbox``
(``mailbox``); everything but a socket's (un)subscription goes to the ``CommandRouter``
(``command_routing``). If this node holds the chat, or nobody does, the command goes to the
local registry, which activates the chat here: ``LeasePlacement`` (``placement``) claims the
chat's lease in the ``Directory`` (``directory``: one Lua script per operation), and the node's
``LeaseKeepers`` (``keeper``, with the pure arithmetic of ``lease``) renew it with every other
lease the node holds, one task and one script call a round, while the actor lives. If another
node holds it (the ``HolderCache`` knows, ``holders``, or else the directory), the
``Forwarder`` (``forwarder``) publishes the command on that node's command channel; there the
``CommandServer`` (``command_server``) runs it against its registry, in arrival order, and
publishes the answer back. The caller gets the same value or error as locally (``codec`` makes
the bytes; ``errors`` the cluster's own errors).

**Where an event goes.** The owner's actor hands every event to its activation's
``EventOutbox`` (``event_outbox``), which publishes it once on the chat's channel, in order and
only while the lease is valid, with the presence it changes recorded beside it
(``presence_snapshot``). Sockets on the owner's node subscribe at the actor itself and never
hear it from Redis. A socket on another node listens through its node's ``ChatBus`` (``bus``:
one Redis subscription per chat per node, each event decoded once and offered to every local
socket, gaps in the chat's log filled from the store) and is registered at the owner for
presence (``socket_registrations``: ``Subscribe(remote=True)``, forwarded), under a
``SubscriptionId`` that names the owner's activation. A chat created on one node is announced
on every node's user sockets (``chat_creations``). Every PUBLISH a node sends (events,
commands, answers) leaves through one task, one pipeline per round trip (``redis.publisher``).

**When a node dies.** Its leases run out (``lease_ttl_s``) and each of its chats is activated
on the next node that uses it. The new activation takes over who was online
(``presence_snapshot``), announces itself on the chat's channel, and the other nodes register
their sockets with it again (``socket_registrations``). Nodes find the dead by asking Redis who
still listens on their command channels (``liveness``): sockets a dead node had registered here
are unsubscribed, so its users go offline (``remote_subscribers``), and sockets here
registered at a dead owner register again, which takes its chats over even when nobody uses
them (``owner_watch``).

**When Redis dies.** Every operation is bounded in time (``redis``, a small client that
imports nothing else of chatactors): a failure is ``ClusterUnavailable`` (503 with
``Retry-After``), the node fails fast and probes with a jittered backoff. Chats held here keep
working until their leases lapse (the keeper tells a Redis outage from this node stalling); the
Pub/Sub connection reconnects and subscribes again, and sockets fill what they missed from the
store; send limits (``rate_limits``, one GCRA bucket per user in Redis) fall back to each
node's own.

``node`` builds all of this from its parts, the registry included, in one constructor
(``open_cluster_node``), and stops it in reverse. docs/CLUSTER.md has the picture and the
guarantees. This package uses ``actors``, ``domain`` and ``storage``, never ``web``
(``tests/test_layering.py``).
"""
