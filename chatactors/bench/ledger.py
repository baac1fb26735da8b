"""Expected versus received deliveries, per socket, for loss and duplicate detection.

One ledger belongs to one worker. Messages are numbered 0, 1, 2, ... as they are minted, each for
one chat; sockets are numbered as they are added, each subscribed to one chat. A message that the
server accepted is expected exactly once on every socket of its chat.
"""

from __future__ import annotations

from array import array
from collections import Counter

import attrs

PENDING, ACCEPTED, FAILED = 0, 1, 2


@attrs.frozen
class DeliverySummary:
    """What arrived compared with what should have."""

    messages_sent: int
    """Messages minted (whatever became of them)."""
    messages_accepted: int
    """Messages the server accepted (2xx answer, or an ack over the socket)."""
    messages_failed: int
    """Messages the server refused or whose request failed."""
    messages_unanswered: int
    """Messages still without an answer when the run ended."""
    expected: int
    """Deliveries owed: for each accepted message, one per socket of its chat."""
    received: int
    """Distinct deliveries of accepted messages."""
    lost: int
    """`expected - received`: deliveries not seen by the end of the run (including its drain)."""
    duplicated: int
    """Deliveries of a message a socket had already received."""
    misrouted: int
    """Deliveries of a message of another chat."""
    unknown: int
    """Deliveries carrying a token this ledger never minted."""
    delivered_unaccepted: int
    """Distinct deliveries of messages that were not (yet) accepted: not lost, not counted."""
    sockets: int
    disconnected_sockets: int


@attrs.define(eq=False)
class DeliveryLedger:
    """Mutable bookkeeping of sent messages and the deliveries seen on each socket."""

    t0_ns: int = 0
    """Start of the measured window (monotonic ns); delivery times are kept relative to it."""
    _message_chat: array[int] = attrs.field(factory=lambda: array("i"))
    _message_state: bytearray = attrs.field(factory=bytearray)
    _socket_chat: list[int] = attrs.field(factory=list)
    _sockets_per_chat: Counter[int] = attrs.field(factory=Counter)
    _seen: list[set[int]] = attrs.field(factory=list)
    _disconnected: set[int] = attrs.field(factory=set)
    duplicated: int = 0
    misrouted: int = 0
    unknown: int = 0
    unique_deliveries: int = 0
    expected_so_far: int = 0
    """Deliveries owed by the messages accepted so far (for early drain and progress)."""
    latency_ns: array[int] = attrs.field(factory=lambda: array("q"))
    """Latency of each distinct, correctly routed delivery."""
    at_ns: array[int] = attrs.field(factory=lambda: array("q"))
    """When each of those deliveries arrived, relative to `t0_ns`."""

    def add_socket(self, chat: int) -> int:
        """Register a socket subscribed to `chat`; returns its index."""
        self._socket_chat.append(chat)
        self._sockets_per_chat[chat] += 1
        self._seen.append(set())
        return len(self._socket_chat) - 1

    def mint(self, chat: int) -> int:
        """Allocate the number of a new message for `chat`."""
        self._message_chat.append(chat)
        self._message_state.append(PENDING)
        return len(self._message_chat) - 1

    def settle(self, n: int, accepted: bool) -> bool:
        """Record the server's answer to message `n`; False if it was already answered."""
        if self._message_state[n] != PENDING:
            return False
        self._message_state[n] = ACCEPTED if accepted else FAILED
        if accepted:
            self.expected_so_far += self._sockets_per_chat[self._message_chat[n]]
        return True

    def record(self, socket: int, n: int, send_ns: int, recv_ns: int) -> None:
        """Record that `socket` received message `n` sent at `send_ns`, at `recv_ns`."""
        if n >= len(self._message_chat):
            self.unknown += 1
            return
        if self._message_chat[n] != self._socket_chat[socket]:
            self.misrouted += 1
            return
        seen = self._seen[socket]
        if n in seen:
            self.duplicated += 1
            return
        seen.add(n)
        self.unique_deliveries += 1
        self.latency_ns.append(recv_ns - send_ns)
        self.at_ns.append(recv_ns - self.t0_ns)

    def has(self, socket: int, n: int) -> bool:
        """Whether ``socket`` received operation ``n`` already."""
        return n in self._seen[socket]

    def chat_of(self, n: int) -> int:
        """The chat of operation ``n``."""
        return self._message_chat[n]

    def disconnect(self, socket: int) -> None:
        """Record that `socket` closed before the end of the run."""
        self._disconnected.add(socket)

    def __len__(self) -> int:
        """Messages minted so far."""
        return len(self._message_state)

    @property
    def pending(self) -> int:
        """Messages still waiting for the server's answer."""
        return self._message_state.count(PENDING)

    @property
    def accepted(self) -> int:
        """Messages accepted so far."""
        return self._message_state.count(ACCEPTED)

    @property
    def disconnected(self) -> int:
        return len(self._disconnected)

    def summary(self) -> DeliverySummary:
        """Compare every socket's deliveries with what its chat was owed."""
        states = self._message_state
        accepted_per_chat: Counter[int] = Counter(
            chat
            for chat, state in zip(self._message_chat, states, strict=True)
            if state == ACCEPTED
        )
        expected = received = delivered_unaccepted = 0
        for socket, chat in enumerate(self._socket_chat):
            expected += accepted_per_chat[chat]
            for n in self._seen[socket]:
                if states[n] == ACCEPTED:
                    received += 1
                else:
                    delivered_unaccepted += 1
        return DeliverySummary(
            messages_sent=len(states),
            messages_accepted=states.count(ACCEPTED),
            messages_failed=states.count(FAILED),
            messages_unanswered=states.count(PENDING),
            expected=expected,
            received=received,
            lost=expected - received,
            duplicated=self.duplicated,
            misrouted=self.misrouted,
            unknown=self.unknown,
            delivered_unaccepted=delivered_unaccepted,
            sockets=len(self._socket_chat),
            disconnected_sockets=len(self._disconnected),
        )
