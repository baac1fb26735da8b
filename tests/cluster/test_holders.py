"""HolderCache: pure bookkeeping, times passed in (no clock, no Redis)."""

from __future__ import annotations

from chatactors.cluster.directory import Holder
from chatactors.cluster.holders import HolderCache
from chatactors.domain.ids import ChatId

X, Y = ChatId("x"), ChatId("y")


def test_a_learned_holder_is_a_hit_until_it_expires_then_a_miss() -> None:
    cache = HolderCache("self", ttl_s=2.0)
    assert cache.get(X, now=0.0) is None
    cache.learn(X, Holder("a", 1), now=0.0)
    assert cache.get(X, now=1.9) == Holder("a", 1)
    assert cache.get(X, now=2.0) is None
    assert (cache.statistics().hits, cache.statistics().misses) == (1, 2)
    assert len(cache) == 0  # the expired entry is dropped


def test_a_later_activation_is_not_undone_by_an_older_answer_arriving_late() -> None:
    cache = HolderCache("self", ttl_s=2.0)
    cache.learn(X, Holder("c", 7), now=0.0)
    cache.learn(X, Holder("a", 5), now=0.5)
    assert cache.get(X, now=1.0) == Holder("c", 7)
    # Once the newer entry expired, an older-token answer is all there is.
    cache.learn(X, Holder("a", 5), now=2.5)
    assert cache.get(X, now=3.0) == Holder("a", 5)


def test_an_answer_from_the_holder_keeps_its_entry_fresh_and_nothing_else() -> None:
    cache = HolderCache("self", ttl_s=2.0)
    cache.learn(X, Holder("a", 1), now=0.0)
    cache.confirm(X, "a", now=1.5)
    assert cache.get(X, now=3.4) == Holder("a", 1)  # 1.5 + 2.0, not 0.0 + 2.0
    assert cache.get(X, now=3.5) is None
    cache.confirm(X, "a", now=3.6)  # expired and dropped: not brought back
    assert cache.get(X, now=3.7) is None
    cache.learn(Y, Holder("c", 7), now=0.0)
    cache.confirm(Y, "a", now=1.0)  # an answer from a node the entry does not name
    assert cache.get(Y, now=2.5) is None
    assert len(cache) == 0


def test_forget_only_drops_the_entry_naming_that_node() -> None:
    cache = HolderCache("self", ttl_s=2.0)
    cache.learn(X, Holder("c", 7), now=0.0)
    cache.forget(X, "a")  # a late complaint about the previous holder
    assert cache.get(X, now=0.1) == Holder("c", 7)
    cache.forget(X, "c")
    assert cache.get(X, now=0.2) is None


def test_this_node_is_never_cached_and_replaces_what_was() -> None:
    cache = HolderCache("self", ttl_s=2.0)
    cache.learn(X, Holder("a", 1), now=0.0)
    cache.learn(X, Holder("self", 2), now=0.1)
    assert cache.get(X, now=0.2) is None


def test_the_least_recently_learned_chat_goes_first_when_full() -> None:
    cache = HolderCache("self", ttl_s=2.0, max_entries=1)
    cache.learn(X, Holder("a", 1), now=0.0)
    cache.learn(Y, Holder("b", 1), now=0.0)
    assert cache.get(X, now=0.1) is None
    assert cache.get(Y, now=0.1) == Holder("b", 1)
