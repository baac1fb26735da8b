"""The drain after the sending window (mock clock): late deliveries count, silence ends it."""

import trio
import trio.testing

from chatactors.bench import fanout
from chatactors.bench.fanout import FanoutSpec
from chatactors.bench.ledger import DeliveryLedger


def _run() -> tuple[fanout._Run, int, int]:
    spec = FanoutSpec(urls=("http://127.0.0.1:9",), chat_ids=("c",), subscribers=1, rate=1.0,
                      duration_s=1.0, drain_s=5.0)  # fmt: skip
    run = fanout._Run(spec=spec, ledger=DeliveryLedger())
    socket = run.ledger.add_socket(0)
    n = run.ledger.mint(0)
    run.ledger.settle(n, accepted=True)
    return run, socket, n


async def test_a_late_delivery_is_waited_for(autojump_clock: trio.testing.MockClock) -> None:
    run, socket, n = _run()

    async def deliver_late() -> None:
        await trio.sleep(4.0)  # less than drain_s of silence
        run.ledger.record(socket, n, 0, 1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(deliver_late)
        assert await fanout._await_deliveries(run) == "complete"
    assert run.ledger.summary().lost == 0


async def test_silence_ends_the_drain_and_counts_the_loss(
    autojump_clock: trio.testing.MockClock,
) -> None:
    run, _, _ = _run()
    start = trio.current_time()
    assert await fanout._await_deliveries(run) == "quiet"
    assert 5.0 <= trio.current_time() - start < 6.0
    assert run.ledger.summary().lost == 1


async def test_settle_stops_sending_and_waits_for_answers(
    autojump_clock: trio.testing.MockClock,
) -> None:
    run, _, _ = _run()
    run.in_flight = 1

    async def answer() -> None:
        await trio.sleep(3.0)
        run.in_flight = 0

    async with trio.open_nursery() as nursery:
        nursery.start_soon(answer)
        assert await fanout._settle(run) == "complete"
    assert not run.sending
