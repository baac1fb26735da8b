"""Compare the bench's small HTTP/1.1 client with httpx.AsyncClient (under trio, via anyio).

Closed loop, N concurrent keep-alive clients, GET against a running server, on one core:
    taskset -c 1 .venv/bin/python benchmarks/http_client_speed.py http://127.0.0.1:8000 /healthz

Prints requests per second and the generator's CPU seconds per 1,000 requests for each client
(the server is the same for both, so lower CPU per request is the client's own cost).
"""

from __future__ import annotations

import resource
import sys
import time

import httpx
import trio

from chatactors.bench.httpclient import HttpPool

N = 16
SECONDS = 5.0


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def bench_small(url: str, path: str) -> tuple[int, float]:
    pool = HttpPool(url, N)
    count = 0
    deadline = trio.current_time() + SECONDS

    async def client() -> None:
        nonlocal count
        async with pool.connection() as conn:
            while trio.current_time() < deadline:
                response = await conn.request("GET", path)
                assert response.ok, response.status
                count += 1

    start = cpu_s()
    async with trio.open_nursery() as nursery:
        for _ in range(N):
            nursery.start_soon(client)
    await pool.aclose()
    return count, cpu_s() - start


async def bench_httpx(url: str, path: str) -> tuple[int, float]:
    count = 0
    deadline = trio.current_time() + SECONDS
    limits = httpx.Limits(max_connections=N, max_keepalive_connections=N)
    async with httpx.AsyncClient(base_url=url, limits=limits) as client:

        async def worker() -> None:
            nonlocal count
            while trio.current_time() < deadline:
                response = await client.get(path)
                assert response.is_success, response.status_code
                count += 1

        start = cpu_s()
        async with trio.open_nursery() as nursery:
            for _ in range(N):
                nursery.start_soon(worker)
        return count, cpu_s() - start


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
    path = sys.argv[2] if len(sys.argv) > 2 else "/healthz"
    for name, bench in (("small client", bench_small), ("httpx", bench_httpx)):
        wall = time.monotonic()
        count, cpu = trio.run(bench, url, path)
        wall = time.monotonic() - wall
        per_k = 1000 * cpu / count
        print(f"{name:>12}: {count / wall:8.0f} req/s, {per_k:6.2f} CPU s per 1k requests")


if __name__ == "__main__":
    main()
