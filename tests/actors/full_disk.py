"""A real SQLite store that runs out of space (``PRAGMA max_page_count``), and gets it back."""

from __future__ import annotations

from chatactors.storage.sqlite import SqliteStore

#: Larger than a page: a message with this content needs new pages, so a full store refuses it.
BIG = "x" * 20_000


async def fill_up(store: SqliteStore) -> None:
    """From now on, writes that need a new page fail with "database or disk is full"."""

    def cap() -> None:
        (pages,) = store._write_conn.execute("PRAGMA page_count").fetchone()
        store._write_conn.execute(f"PRAGMA max_page_count = {pages}")

    await store._writer.run_exclusive(cap)


async def free_up(store: SqliteStore) -> None:
    def uncap() -> None:
        store._write_conn.execute("PRAGMA max_page_count = 1073741823")

    await store._writer.run_exclusive(uncap)
