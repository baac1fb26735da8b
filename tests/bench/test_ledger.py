"""Delivery bookkeeping: expected versus received, per socket."""

from chatactors.bench.ledger import DeliveryLedger


def _ledger_two_chats() -> tuple[DeliveryLedger, list[int], list[int]]:
    """Chat 0 with sockets a0, a1; chat 1 with socket b0."""
    ledger = DeliveryLedger(t0_ns=1_000)
    chat0 = [ledger.add_socket(0), ledger.add_socket(0)]
    chat1 = [ledger.add_socket(1)]
    return ledger, chat0, chat1


def test_everything_delivered_once() -> None:
    ledger, chat0, chat1 = _ledger_two_chats()
    m0, m1 = ledger.mint(0), ledger.mint(1)
    ledger.settle(m0, accepted=True)
    ledger.settle(m1, accepted=True)
    for socket in chat0:
        ledger.record(socket, m0, send_ns=1_000, recv_ns=1_500)
    ledger.record(chat1[0], m1, send_ns=1_100, recv_ns=1_300)
    summary = ledger.summary()
    assert (summary.expected, summary.received, summary.lost, summary.duplicated) == (3, 3, 0, 0)
    assert list(ledger.latency_ns) == [500, 500, 200]
    assert list(ledger.at_ns) == [500, 500, 300]


def test_missing_delivery_is_lost_per_socket() -> None:
    ledger, chat0, _ = _ledger_two_chats()
    m0 = ledger.mint(0)
    ledger.settle(m0, accepted=True)
    ledger.record(chat0[0], m0, 0, 1)
    summary = ledger.summary()
    assert summary.expected == 2
    assert summary.lost == 1


def test_second_copy_is_a_duplicate_and_not_a_second_sample() -> None:
    ledger, chat0, _ = _ledger_two_chats()
    m0 = ledger.mint(0)
    ledger.settle(m0, accepted=True)
    ledger.record(chat0[0], m0, 0, 10)
    ledger.record(chat0[0], m0, 0, 20)
    ledger.record(chat0[1], m0, 0, 30)
    summary = ledger.summary()
    assert summary.duplicated == 1
    assert summary.lost == 0
    assert len(ledger.latency_ns) == 2


def test_message_of_another_chat_is_misrouted() -> None:
    ledger, _, chat1 = _ledger_two_chats()
    m0 = ledger.mint(0)
    ledger.settle(m0, accepted=True)
    ledger.record(chat1[0], m0, 0, 1)
    summary = ledger.summary()
    assert summary.misrouted == 1
    assert summary.received == 0
    assert summary.lost == 2


def test_unknown_number_is_counted_not_crashing() -> None:
    ledger, chat0, _ = _ledger_two_chats()
    ledger.record(chat0[0], 99, 0, 1)
    assert ledger.summary().unknown == 1


def test_failed_message_is_not_owed() -> None:
    ledger, chat0, _ = _ledger_two_chats()
    m0 = ledger.mint(0)
    ledger.settle(m0, accepted=False)
    ledger.record(chat0[0], m0, 0, 1)  # the server stored it although it answered an error
    summary = ledger.summary()
    assert summary.expected == 0
    assert summary.lost == 0
    assert summary.messages_failed == 1
    assert summary.delivered_unaccepted == 1


def test_delivery_before_the_answer_still_counts() -> None:
    ledger, chat0, _ = _ledger_two_chats()
    m0 = ledger.mint(0)
    for socket in chat0:
        ledger.record(socket, m0, 0, 1)
    assert ledger.pending == 1
    ledger.settle(m0, accepted=True)
    assert ledger.pending == 0
    summary = ledger.summary()
    assert (summary.expected, summary.received, summary.lost) == (2, 2, 0)


def test_unanswered_messages_are_reported() -> None:
    ledger, _, _ = _ledger_two_chats()
    ledger.mint(0)
    summary = ledger.summary()
    assert summary.messages_unanswered == 1
    assert summary.expected == 0


def test_first_answer_wins_and_expected_so_far_tracks_it() -> None:
    ledger, _, _ = _ledger_two_chats()
    m0 = ledger.mint(0)
    assert ledger.settle(m0, accepted=True)
    assert not ledger.settle(m0, accepted=False)
    assert ledger.accepted == 1
    assert ledger.expected_so_far == 2
    assert ledger.summary().messages_accepted == 1


def test_disconnects_are_counted_once_per_socket() -> None:
    ledger, chat0, _ = _ledger_two_chats()
    ledger.disconnect(chat0[0])
    ledger.disconnect(chat0[0])
    assert ledger.summary().disconnected_sockets == 1


def test_len_counts_minted_messages() -> None:
    ledger, _, _ = _ledger_two_chats()
    ledger.mint(0)
    ledger.mint(1)
    assert len(ledger) == 2
