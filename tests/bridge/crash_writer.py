"""A second process for the storage tests (run as a script, not collected).

``crash_writer.py loop DB``: commits rows forever, printing the row number
after each commit (the parent kills it with SIGKILL).
``crash_writer.py cli DB``: what ``thermosmart-bridge token create`` and
``pair`` do while the daemon runs; prints one JSON object.
``crash_writer.py exchange DB CODE...``: tries each pairing code, prints the
JSON list of codes it won.
``crash_writer.py tokens DB N``: creates N API tokens, prints the JSON list of
``{"token", "id"}``.
"""

from __future__ import annotations

import asyncio
import json
import sys

from bridge.core.clock import SystemClock
from bridge.storage import Database, EventKind, Sample

BASE_TS = 1_767_225_600.0


async def _loop(path: str) -> None:
    db = await Database.open(path, SystemClock())
    i = 0
    while True:
        # a batch keeps the writer inside a transaction much of the time
        batch = [Sample(BASE_TS + i + k / 100, "crash", float(i)) for k in range(50)]
        await db.measurements.add_samples(batch)
        await db.events.log(EventKind.INFO, f"row {i}", code=i)
        sys.stdout.write(f"{i}\n")
        sys.stdout.flush()
        i += 1


async def _cli(path: str) -> None:
    db = await Database.open(path, SystemClock())
    try:
        issued = await db.auth.create_token("script")
        code = await db.auth.create_pairing_code()
        print(json.dumps({"access_token": issued.token, "id": issued.info.id, "code": code}))
    finally:
        await db.close()


async def _exchange(path: str, codes: list[str]) -> None:
    db = await Database.open(path, SystemClock())
    try:
        won = [c for c in codes if await db.auth.exchange_pairing_code(c, "child") is not None]
        print(json.dumps(won))
    finally:
        await db.close()


async def _tokens(path: str, count: int) -> None:
    db = await Database.open(path, SystemClock())
    try:
        issued = [await db.auth.create_token(f"revocable {i}") for i in range(count)]
        print(json.dumps([{"token": t.token, "id": t.info.id} for t in issued]))
    finally:
        await db.close()


def main(argv: list[str]) -> None:
    mode, path, *rest = argv
    if mode == "loop":
        asyncio.run(_loop(path))
    elif mode == "cli":
        asyncio.run(_cli(path))
    elif mode == "exchange":
        asyncio.run(_exchange(path, rest))
    elif mode == "tokens":
        asyncio.run(_tokens(path, int(rest[0])))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
