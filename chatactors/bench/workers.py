"""Run the fanout workload in one process or split over several worker processes.

Each worker owns a share of the chats (and the same share of the rate), opens their sockets and
sends their messages; a `multiprocessing.Barrier` starts every worker's schedule together, and
the parent process samples the server in the meantime.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import traceback
from multiprocessing.synchronize import Barrier

import attrs
import trio

from chatactors.bench.fanout import FanoutOutcome, FanoutSpec, run_fanout
from chatactors.bench.monitor import ServerMonitor

BARRIER_TIMEOUT_S = 600.0


class WorkerError(Exception):
    """A worker process failed; the message carries its traceback."""


def split(spec: FanoutSpec, workers: int) -> list[FanoutSpec]:
    """Deal the chats round robin to `workers` workers, with rates proportional to chat counts."""
    if workers < 1:
        raise ValueError("at least one worker")
    chats = len(spec.chat_ids)
    shares = [spec.chat_ids[w::workers] for w in range(min(workers, chats))]
    return [
        attrs.evolve(spec, chat_ids=share, rate=spec.rate * len(share) / chats, worker=w)
        for w, share in enumerate(shares)
    ]


async def run_in_process(spec: FanoutSpec, monitor: ServerMonitor) -> list[FanoutOutcome]:
    async def gate() -> None:
        monitor.mark_start()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(monitor.run)
        outcome = await run_fanout(spec, gate, monitor.mark_end)
        nursery.cancel_scope.cancel()
    return [outcome]


def _worker_main(
    spec: FanoutSpec, barrier: Barrier, results: multiprocessing.Queue[object]
) -> None:
    async def gate() -> None:
        await trio.to_thread.run_sync(barrier.wait, BARRIER_TIMEOUT_S, abandon_on_cancel=True)

    try:
        results.put(trio.run(run_fanout, spec, gate))
    except BaseException:
        barrier.abort()
        results.put(WorkerError(f"worker {spec.worker}:\n{traceback.format_exc()}"))


async def run_in_workers(specs: list[FanoutSpec], monitor: ServerMonitor) -> list[FanoutOutcome]:
    """Run one process per spec; returns their outcomes.

    Raises:
        WorkerError: a worker failed (the others are terminated).
    """
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(specs) + 1)
    results: multiprocessing.Queue[object] = context.Queue()
    processes = [
        context.Process(target=_worker_main, args=(spec, barrier, results), daemon=True)
        for spec in specs
    ]
    for process in processes:
        process.start()
    outcomes: list[FanoutOutcome] = []
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(monitor.run)
            try:
                await trio.to_thread.run_sync(
                    barrier.wait, BARRIER_TIMEOUT_S, abandon_on_cancel=True
                )
            except threading.BrokenBarrierError:  # a worker failed during setup
                pass
            else:
                monitor.mark_start()
                await trio.sleep(specs[0].duration_s)
                monitor.mark_end()
            while len(outcomes) < len(specs):
                try:
                    item = await trio.to_thread.run_sync(results.get, True, 1.0)
                except queue.Empty:
                    if not any(p.is_alive() for p in processes):
                        raise WorkerError("worker processes exited without a result") from None
                    continue
                if isinstance(item, WorkerError):
                    raise item
                assert isinstance(item, FanoutOutcome)
                outcomes.append(item)
            nursery.cancel_scope.cancel()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join(timeout=5)
    return sorted(outcomes, key=lambda o: o.worker)
