"""Search at scale: a SQLite store of 1,000,000 messages, its query latencies and index size,
and what the index costs a send.

Three phases, all on this machine and 127.0.0.1 only (``--help`` for the sizes):

1. **generate** (cached in ``--data-dir``; skipped when a store of the same parameters is
   there): ``--messages`` over ``--chats`` chats of ``--users`` users (2-12 members a chat, so a
   user is in about 50 chats), written by the store's own write path (``sqlite._apply``, what
   the group commit runs for every write, in transactions of 10,000), texts drawn from a
   vocabulary of 50,000 words with a Zipf-like frequency (exponent 1.07, as English), 2 % of
   them mentioning a member.
2. **queries**: ``SqliteStore.search`` (what ``GET /search`` runs) for users in about the
   median number of chats: rare words, common words (one, and two at once), phrases, prefixes
   (2, 3-4 and 5 characters of common words), each over the user's chats and with
   ``chat_id=``, newest first, and rare and common words by relevance; p50/p99 of each, in
   wall-clock and in this process's CPU time. Beside it, the other plan for "the user's
   chats" (FTS5 on the words alone, the chats filtered by a join) on the same queries. And the
   index's size on disk (``dbstat``) per message.
3. **sends**: appends through the store (``SqliteStore.append_message``, group commit,
   ``synchronous=FULL``) into a copy of the generated store, with the index and with it
   switched off (the index write replaced by nothing), alternately; then HTTP sends to a
   ``chatactors serve`` of this code and of the code before search (``--baseline-src``: a
   checkout of it), alternately, each on a fresh data directory. Medians side by side.

Run: ``.venv/bin/python benchmarks/search_bench.py`` (all phases; ``--phases queries`` for
one). Results: ``benchmarks/results/search-*.json`` and BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import trio

from chatactors.bench.api import create_chat, message_body, messages_path
from chatactors.bench.httpclient import HttpPool
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import Chat, Message, MessageType
from chatactors.domain.search_query import parse_query
from chatactors.storage import sqlite as sqlite_store
from chatactors.storage import sqlite_search
from chatactors.storage.group_commit import AppendMessage, CreateChat
from chatactors.storage.migrations import MIGRATIONS, migrate
from chatactors.storage.search import SearchOrder, SearchRequest
from chatactors.storage.sqlite import open_sqlite_store

VOCABULARY = 50_000
ZIPF_EXPONENT = 1.07
SYLLABLES = (
    "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "be", "da", "fo", "gu", "ha", "ji", "po", "qu",
    "re", "su", "te", "wa", "xe", "yo", "zu", "an", "el", "in", "or", "um", "ba", "ce", "di", "ek",
    "ga", "hi", "ko", "lu", "ma", "no", "pe", "ri", "so", "tu", "ve", "wi", "ya", "zo",
)  # fmt: skip
START = datetime(2026, 1, 1, tzinfo=UTC)
SERVING = re.compile(rb"Serving on (http://127\.0\.0\.1:\d+)")
RESULTS = Path(__file__).parent / "results"


# -- the data -------------------------------------------------------------------------------


def vocabulary(rng: np.random.Generator) -> list[str]:
    """Pronounceable, distinct words, in frequency rank order (rank 0 the most common)."""
    words: dict[str, None] = {}
    while len(words) < VOCABULARY:
        count = int(rng.choice([1, 2, 2, 3, 3, 3, 4]))
        words["".join(SYLLABLES[int(i)] for i in rng.integers(0, len(SYLLABLES), count))] = None
    return list(words)


def zipf_weights() -> np.ndarray[Any, np.dtype[np.float64]]:
    weights: np.ndarray[Any, np.dtype[np.float64]] = (
        1.0 / np.arange(1, VOCABULARY + 1, dtype=np.float64) ** ZIPF_EXPONENT
    )
    return weights / float(weights.sum())


def generate(data_dir: Path, messages: int, chats: int, users: int, seed: int) -> dict[str, Any]:
    """Write the store through its own write function, in large transactions."""
    rng = np.random.default_rng(seed)
    words = vocabulary(rng)
    weights = zipf_weights()
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "chatactors.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    conn = sqlite_store._connect(path)
    migrate(conn)
    conn.execute("PRAGMA synchronous = OFF")  # generating, not measuring durability
    started = time.perf_counter()
    sizes = rng.choice([2, 2, 2, 2, 2, 3, 3, 4, 5, 6, 8, 10, 12], size=chats)
    members = [
        tuple(UserId(f"user{u:04d}") for u in rng.choice(users, size=int(size), replace=False))
        for size in sizes
    ]
    chat_ids = [
        ChatId(str(uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | i))) for i in range(chats)
    ]
    conn.execute("BEGIN")
    for chat_id, people in zip(chat_ids, members, strict=True):
        sqlite_store._apply(conn, CreateChat(Chat(chat_id, (*people, UserId("bot_user")), START)))
    conn.execute("COMMIT")
    # Busier and quieter chats (mildly skewed), their messages interleaved in time.
    activity = 1.0 / np.arange(1, chats + 1) ** 0.5
    counts = rng.multinomial(messages, activity / activity.sum())
    order = np.repeat(np.arange(chats), counts)
    rng.shuffle(order)
    lengths = np.clip(rng.lognormal(2.0, 0.6, size=messages).astype(int), 1, 60)
    drawn = rng.choice(VOCABULARY, size=int(lengths.sum()), p=weights)
    authors = rng.random(messages)
    mentioning = rng.random(messages) < 0.02
    seqs = [0] * chats
    offset = 0
    conn.execute("BEGIN")
    for index in range(messages):
        chat = int(order[index])
        people = members[chat]
        author = people[int(authors[index] * len(people))]
        text = " ".join(words[w] for w in drawn[offset : offset + lengths[index]])
        offset += lengths[index]
        mentions: tuple[UserId, ...] = ()
        if mentioning[index] and len(people) > 1:
            named = people[0] if people[0] != author else people[1]
            text, mentions = f"@{named} {text}", (named,)
        seqs[chat] += 1
        message = Message(
            id=MessageId(str(uuid.UUID(int=index + 1))),
            chat_id=chat_ids[chat],
            seq=seqs[chat],
            user_id=author,
            type=MessageType.TEXT,
            content=text.capitalize() + ("?" if index % 7 == 0 else ""),
            timestamp=START + timedelta(milliseconds=index * 50),
            pos=seqs[chat],
            mentions=mentions,
        )
        sqlite_store._apply(conn, AppendMessage(message, owner=0))
        if index % 10_000 == 9_999:
            conn.execute("COMMIT")
            conn.execute("BEGIN")
            if index % 100_000 == 99_999:
                print(f"  {index + 1:,} messages, {time.perf_counter() - started:.0f} s",
                      flush=True)  # fmt: skip
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return {"seconds": round(time.perf_counter() - started, 1)}


def store_parameters(args: argparse.Namespace) -> dict[str, Any]:
    # The schema too: a store generated by another version is generated again.
    index = hashlib.blake2b(sqlite_search.SCHEMA.encode(), digest_size=6).hexdigest()
    return {"messages": args.messages, "chats": args.chats, "users": args.users,
            "seed": args.seed, "vocabulary": VOCABULARY, "zipf": ZIPF_EXPONENT,
            "schema": len(MIGRATIONS), "index": index}  # fmt: skip


def ensure_store(args: argparse.Namespace) -> dict[str, Any]:
    marker = args.data_dir / "parameters.json"
    wanted = store_parameters(args)
    if marker.exists() and json.loads(marker.read_text()).get("store") == wanted:
        print(f"using the store in {args.data_dir}")
        return dict(json.loads(marker.read_text())["generated"])
    print(f"generating {args.messages:,} messages in {args.data_dir} ...", flush=True)
    generated = generate(args.data_dir, args.messages, args.chats, args.users, args.seed)
    marker.write_text(json.dumps({"store": wanted, "generated": generated}))
    print(f"generated in {generated['seconds']} s")
    return generated


# -- queries --------------------------------------------------------------------------------


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def query_sets(args: argparse.Namespace) -> dict[str, list[str]]:
    """The query texts of each class (the same words the store was generated from)."""
    rng = np.random.default_rng(args.seed)
    words = vocabulary(rng)
    pick = np.random.default_rng(args.seed + 1)
    n = args.queries
    common = [words[int(i)] for i in pick.integers(0, 10, n)]
    common_pairs = [" ".join(words[int(i)] for i in pick.choice(10, 2, replace=False))
                    for _ in range(n)]  # fmt: skip
    rare = [words[int(i)] for i in pick.integers(5_000, 30_000, n)]
    phrases = []
    with sqlite3.connect(args.data_dir / "chatactors.sqlite3") as conn:
        top = conn.execute("SELECT max(rowid) FROM messages").fetchone()[0]
        for rowid in pick.integers(1, top, n * 3):
            (content,) = conn.execute(
                "SELECT content FROM messages WHERE rowid = ?", (int(rowid),)
            ).fetchone()
            tokens = [w for w in content.lower().rstrip("?").split() if not w.startswith("@")]
            if len(tokens) >= 2:
                at = int(pick.integers(0, len(tokens) - 1))
                phrases.append(f'"{tokens[at]} {tokens[at + 1]}"')
            if len(phrases) == n:
                break
    source = [words[int(i)] for i in pick.integers(0, 300, n)]
    prefix2 = [f"{w[:2]}*" for w in source]
    prefix34 = [f"{w[: 3 + (i % 2)]}*" for i, w in enumerate(source)]
    # 5 characters of the common words that have 6 or more (longer than any prefix index).
    long_words = [w for w in words[:300] if len(w) >= 6]
    prefix5 = [f"{long_words[int(i)][:5]}*" for i in pick.integers(0, len(long_words), n)]
    return {"rare": rare, "common": common, "common-pair": common_pairs, "phrase": phrases,
            "prefix2": prefix2, "prefix3-4": prefix34, "prefix5": prefix5}  # fmt: skip


def sample_users(path: Path, count: int) -> list[tuple[UserId, list[ChatId]]]:
    """Users with about the median number of chats, and their chats."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT user_id, count(*) FROM participants WHERE user_id != 'bot_user'"
            " GROUP BY user_id ORDER BY count(*)"
        ).fetchall()
        middle = len(rows) // 2
        chosen = [user for user, _ in rows[middle - count // 2 : middle + (count + 1) // 2]]
        return [
            (UserId(user), [ChatId(c) for (c,) in conn.execute(
                "SELECT chat_id FROM participants WHERE user_id = ?", (user,))])
            for user in chosen
        ]  # fmt: skip


def join_plan(conn: sqlite3.Connection, user: UserId, q: str, chat: ChatId | None) -> int:
    """The other plan: FTS5 matches the words alone, a join keeps the user's chats."""
    terms = parse_query(q).terms
    words = " AND ".join(sqlite_search._phrase(term) for term in terms)
    chats = "p.user_id = ?" + (" AND p.chat_id = ?" if chat else "")
    rows = conn.execute(
        "SELECT s.rowid FROM message_search s JOIN messages m ON m.rowid = s.rowid"
        " WHERE message_search MATCH ? AND NOT m.deleted AND m.chat_id IN"
        f" (SELECT p.chat_id FROM participants p WHERE {chats})"
        " ORDER BY s.rowid DESC LIMIT 21",
        (f"body : ({words})", user, *((chat,) if chat else ())),
    ).fetchall()
    return len(rows)


async def run_queries(args: argparse.Namespace) -> dict[str, Any]:
    sets = query_sets(args)
    users = sample_users(args.data_dir / "chatactors.sqlite3", 20)
    pick = np.random.default_rng(args.seed + 2)
    results: dict[str, Any] = {
        "users": len(users),
        "chats_per_user": statistics.median(len(chats) for _, chats in users),
    }
    async with open_sqlite_store(args.data_dir) as store:
        for scope in ("user", "chat_id"):
            for name, texts in sets.items():
                orders = [SearchOrder.NEWEST]
                if name in ("common", "common-pair", "rare") and scope == "user":
                    orders.append(SearchOrder.RELEVANCE)
                for order in orders:
                    samples: list[float] = []
                    cpu: list[float] = []
                    hits: list[int] = []
                    for index, q in enumerate(texts):
                        user, chats = users[index % len(users)]
                        chat = (
                            chats[int(pick.integers(0, len(chats)))] if scope == "chat_id" else None
                        )
                        request = SearchRequest(user, parse_query(q), 20, chat_id=chat, order=order)
                        started, cpu_started = time.perf_counter(), time.process_time()
                        page = await store.search(request)
                        samples.append(time.perf_counter() - started)
                        cpu.append(time.process_time() - cpu_started)
                        hits.append(len(page.messages))
                    key = f"{scope}/{name}" + (
                        "/relevance" if order is SearchOrder.RELEVANCE else ""
                    )
                    wall, on_cpu = percentiles(samples), percentiles(cpu)
                    mean_hits = round(statistics.mean(hits), 1)
                    # CPU: this process's CPU time, less bound to the machine's other load.
                    results[key] = {**wall, "cpu": on_cpu, "mean_hits": mean_hits}
                    print(f"  {key:28} p50 {wall['p50_ms']:7.2f} ms  p99 {wall['p99_ms']:7.2f}"
                          f" ms  (CPU p99 {on_cpu['p99_ms']:6.2f} ms)"
                          f"  hits {mean_hits}")  # fmt: skip
    # The join plan on the same queries, on a plain connection (no thread hop: it only gains).
    conn = sqlite3.connect(args.data_dir / "chatactors.sqlite3")
    for name in ("rare", "common", "prefix2"):
        samples = []
        for index, q in enumerate(sets[name]):
            user, _ = users[index % len(users)]
            started = time.perf_counter()
            join_plan(conn, user, q, None)
            samples.append(time.perf_counter() - started)
        results[f"join-plan/user/{name}"] = percentiles(samples)
        print(f"  join-plan/user/{name:15} p50 {results[f'join-plan/user/{name}']['p50_ms']:7.2f}"
              f" ms  p99 {results[f'join-plan/user/{name}']['p99_ms']:7.2f} ms")  # fmt: skip
    results["size"] = index_size(conn)
    conn.close()
    print(f"  index size: {results['size']}")
    return results


def index_size(conn: sqlite3.Connection) -> dict[str, Any]:
    (messages,) = conn.execute("SELECT count(*) FROM messages").fetchone()
    sizes = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
    fts = sum(size for name, size in sizes.items() if name.startswith("message_search"))
    mentions = sizes.get("mentions", 0)
    total = sum(sizes.values())
    return {
        "messages": messages,
        "fts_bytes": fts,
        "fts_bytes_per_message": round(fts / messages, 1),
        "mentions_bytes": mentions,
        "database_bytes": total,
        "database_bytes_per_message": round(total / messages, 1),
        "messages_table_bytes_per_message": round(sizes.get("messages", 0) / messages, 1),
    }


# -- sends ----------------------------------------------------------------------------------


@contextmanager
def index_switched_off() -> Iterator[None]:
    """Appends store the message and its mentions, no index entry (the "without" variant)."""
    original = sqlite_search.index_message

    def mentions_only(conn: sqlite3.Connection, rowid: int, message: Message) -> None:
        sqlite_search._add_mentions(conn, message)

    sqlite_search.index_message = mentions_only
    try:
        yield
    finally:
        sqlite_search.index_message = original


def texts(seed: int, count: int) -> list[str]:
    rng = np.random.default_rng(seed)
    words = vocabulary(np.random.default_rng(0))
    drawn = rng.choice(VOCABULARY, size=count * 10, p=zipf_weights())
    return [" ".join(words[w] for w in drawn[i * 10 : i * 10 + 10]) for i in range(count)]


async def store_sends(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Appends into a copy of the generated store (which stays as generated, for the next
    run's queries): ``args.appenders`` chats at once, in seq order."""
    with tempfile.TemporaryDirectory(prefix="search-bench-sends-") as copy:
        shutil.copy(args.data_dir / "chatactors.sqlite3", copy)
        return await _store_sends(args, Path(copy))


async def _store_sends(args: argparse.Namespace, data_dir: Path) -> list[dict[str, Any]]:
    results = []
    contents = texts(args.seed + 3, args.store_sends)
    async with open_sqlite_store(data_dir) as store:
        with sqlite3.connect(data_dir / "chatactors.sqlite3") as conn:
            chats = [ChatId(c) for (c,) in conn.execute(
                "SELECT id FROM chats ORDER BY rowid LIMIT ?", (args.appenders,))]  # fmt: skip
        loaded = {c: await store.load_chat(c, window=1, idempotency_window=0) for c in chats}
        present = {chat: found for chat, found in loaded.items() if found is not None}
        seqs = {chat: found.last_seq for chat, found in present.items()}
        owners = {chat: found.owner_token for chat, found in present.items()}
        authors = {chat: found.chat.participants[0] for chat, found in present.items()}
        per_chat = args.store_sends // len(chats)
        for run in range(args.pairs * 2):
            indexed = run % 2 == 0

            async def append_all(chat: ChatId) -> None:
                for n in range(per_chat):
                    seqs[chat] += 1
                    message = Message(
                        MessageId(str(uuid.uuid4())), chat, seqs[chat], authors[chat],
                        MessageType.TEXT, contents[n], datetime.now(UTC), pos=seqs[chat],
                    )  # fmt: skip
                    await store.append_message(message, owner=owners[chat])

            with nullcontext() if indexed else index_switched_off():
                before = store.statistics()
                started, cpu_started = time.perf_counter(), time.process_time()
                async with trio.open_nursery() as nursery:
                    for chat in chats:
                        nursery.start_soon(append_all, chat)
                elapsed = time.perf_counter() - started
                cpu = time.process_time() - cpu_started
            after = store.statistics()
            writes = after.writes_committed - before.writes_committed
            batches = after.batches_committed - before.batches_committed
            results.append({"index": indexed, "messages": writes, "seconds": round(elapsed, 3),
                            "messages_per_s": round(writes / elapsed, 1),
                            "cpu_per_message_us": round(cpu / writes * 1e6, 1),
                            "messages_per_commit": round(writes / batches, 1)})  # fmt: skip
            print(f"  store appends, index {'on ' if indexed else 'off'}: "
                  f"{writes / elapsed:8.0f} msg/s, {cpu / writes * 1e6:5.0f} us CPU a message"
                  f" ({writes / batches:.0f} per commit)")  # fmt: skip
    return results


async def http_sends(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    contents = texts(args.seed + 4, 1000)
    for run in range(args.pairs * 2):
        variant = "search" if run % 2 == 0 else "baseline"
        source = None if variant == "search" else args.baseline_src
        with tempfile.TemporaryDirectory(prefix="search-bench-http-") as tmp:
            rate = await http_rate(Path(tmp), source, args.posters, args.http_sends, contents)
        results.append({"variant": variant, **rate})
        print(f"  HTTP sends, {variant:8}: {rate['messages_per_s']:8.0f} msg/s"
              f" (server CPU {rate['server_cpu_s']:.1f} s)")  # fmt: skip
    return results


async def http_rate(
    data_dir: Path, source: Path | None, posters: int, total: int, contents: list[str]
) -> dict[str, Any]:
    """``total`` sends by ``posters`` clients (each its own chat, one request at a time) to a
    fresh server pinned to core 0 (this process runs on core 1)."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    command = ["taskset", "-c", "0", sys.executable, "-m", "chatactors", "serve",
               "--host", "127.0.0.1", "--port", "0", "--store", "sqlite", "--data-dir",
               str(data_dir), "--no-bot-enabled", "--log-level", "warning"]  # fmt: skip
    process = await trio.lowlevel.open_process(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=env, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    assert process.stdout is not None
    seen = b""
    with trio.fail_after(60):
        while (match := SERVING.search(seen)) is None:
            chunk = await process.stdout.receive_some()
            if not chunk:
                raise RuntimeError("the server exited before serving")
            seen += chunk
    pool = HttpPool(match.group(1).decode(), posters)
    try:
        chat_ids = [await create_chat(pool, (f"u{i}", "v")) for i in range(posters)]
        per_poster = total // posters

        async def post_all(i: int) -> None:
            for n in range(per_poster):
                body = message_body(contents[(i * per_poster + n) % len(contents)], f"u{i}")
                response = await pool.request("POST", messages_path(chat_ids[i]), body)
                if not response.ok:
                    raise RuntimeError(f"send answered {response.status}")

        cpu_before = _cpu_seconds(process.pid)
        started = time.perf_counter()
        with trio.fail_after(300):
            async with trio.open_nursery() as nursery:
                for i in range(posters):
                    nursery.start_soon(post_all, i)
        elapsed = time.perf_counter() - started
        cpu = _cpu_seconds(process.pid) - cpu_before
    finally:
        await pool.aclose()
        process.send_signal(signal.SIGTERM)
        with trio.move_on_after(30):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()
    sent = per_poster * posters
    return {"messages": sent, "seconds": round(elapsed, 3),
            "messages_per_s": round(sent / elapsed, 1), "server_cpu_s": round(cpu, 2),
            "server_cpu_per_message_us": round(cpu / sent * 1e6, 1)}  # fmt: skip


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the run --------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return {"nproc": os.cpu_count(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "loadavg_1m": os.getloadavg()[0]}  # fmt: skip


async def main(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {"machine": machine(), "store": store_parameters(args)}
    phases = set(args.phases.split(","))
    report["generated"] = ensure_store(args)
    if "queries" in phases:
        print("queries (SqliteStore.search, 20 results a page):")
        report["queries"] = await run_queries(args)
    if phases & {"sends", "appends", "http"}:
        print("sends:")
        os.sched_setaffinity(0, {1})  # the server, when there is one, runs on core 0
    if phases & {"sends", "appends"}:
        report["store_sends"] = await store_sends(args)
        report["store_sends_ratio"] = side_by_side(
            [run for run in report["store_sends"] if run["index"]],
            [run for run in report["store_sends"] if not run["index"]],
            "cpu_per_message_us",
        )
        print(f"  store appends, index on / off (medians): {report['store_sends_ratio']}")
    if phases & {"sends", "http"} and args.baseline_src is not None:
        report["http_sends"] = await http_sends(args)
        report["http_sends_ratio"] = side_by_side(
            [run for run in report["http_sends"] if run["variant"] == "search"],
            [run for run in report["http_sends"] if run["variant"] == "baseline"],
            "server_cpu_per_message_us",
        )
        print(f"  HTTP sends, search / baseline (medians): {report['http_sends_ratio']}")
    return report


def side_by_side(
    with_index: list[dict[str, Any]], without: list[dict[str, Any]], cpu_key: str
) -> dict[str, float]:
    """Medians of each variant's runs, and with ÷ without (rates: below 1 is slower)."""
    rate_with = statistics.median(run["messages_per_s"] for run in with_index)
    rate_without = statistics.median(run["messages_per_s"] for run in without)
    cpu_with = statistics.median(run[cpu_key] for run in with_index)
    cpu_without = statistics.median(run[cpu_key] for run in without)
    return {
        "messages_per_s_with": rate_with,
        "messages_per_s_without": rate_without,
        "rate_ratio": round(rate_with / rate_without, 3),
        "cpu_per_message_us_with": cpu_with,
        "cpu_per_message_us_without": cpu_without,
        "cpu_ratio": round(cpu_with / cpu_without, 3),
    }


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--chats", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=25)
    default_dir = Path(tempfile.gettempdir()) / "chatactors-search-bench"
    parser.add_argument("--data-dir", type=Path, default=default_dir)
    parser.add_argument("--phases", default="queries,sends",
                        help="queries, sends (= appends and http)")  # fmt: skip
    parser.add_argument("--queries", type=int, default=200, help="queries of each class")
    parser.add_argument("--store-sends", type=int, default=20_000, help="appends per run")
    parser.add_argument("--appenders", type=int, default=100, help="chats appending at once")
    parser.add_argument("--http-sends", type=int, default=3_000, help="HTTP sends per run")
    parser.add_argument("--posters", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--pairs", type=int, default=3, help="runs of each variant")
    parser.add_argument("--baseline-src", type=Path, default=None,
                        help="the code before search (for the HTTP comparison)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    args = parser.parse_args()
    report = trio.run(main, args)
    out = args.out or RESULTS / f"search-{args.messages}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"report: {out}")


if __name__ == "__main__":
    cli()
