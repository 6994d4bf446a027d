"""Screenshot a page of the development Home Assistant as a logged-in user sees it.

Usage (with scripts/develop running and a user created):
    .venv/bin/python scripts/screenshot.py .dev/ha_tokens.json /config/integrations OUT.png

TOKENS_JSON is a file with Home Assistant's token answer (access_token,
refresh_token, expires_in). It drives Debian's headless Chromium over the
DevTools protocol on loopback: stores the tokens where the frontend looks
for them, opens PATH and saves a PNG.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
from pathlib import Path
import shutil
import tempfile
import time
from typing import Any

import aiohttp

HA = "http://127.0.0.1:8123"


async def _cdp(
    ws: aiohttp.ClientWebSocketResponse, ids: itertools.count[int], method: str, **params: Any
) -> Any:
    msg_id = next(ids)
    await ws.send_json({"id": msg_id, "method": method, "params": params})
    while True:
        msg = await ws.receive_json(timeout=60)
        if msg.get("id") == msg_id:
            if "error" in msg:
                raise RuntimeError(f"{method}: {msg['error']}")
            return msg.get("result")


async def shoot(
    tokens: dict[str, Any], path: str, width: int, height: int, wait: float = 8.0
) -> bytes:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    profile = tempfile.mkdtemp(prefix="ts-chromium-")
    port = 9333
    proc = await asyncio.create_subprocess_exec(
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--remote-debugging-port={port}",
        "--remote-debugging-address=127.0.0.1",
        f"--window-size={width},{height}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as session:
            targets: list[dict[str, Any]] = []
            for _ in range(100):
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"http://127.0.0.1:{port}/json") as resp:
                        targets = [t for t in await resp.json() if t["type"] == "page"]
                if targets:
                    break
                await asyncio.sleep(0.2)
            async with session.ws_connect(targets[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                ids = itertools.count(1)
                await _cdp(ws, ids, "Page.enable")
                await _cdp(ws, ids, "Page.navigate", url=f"{HA}/onboarding.html")
                await asyncio.sleep(2)
                stored = {
                    "hassUrl": HA,
                    "clientId": f"{HA}/",
                    "expires": int(time.time() * 1000) + tokens["expires_in"] * 1000,
                    "refresh_token": tokens["refresh_token"],
                    "access_token": tokens["access_token"],
                    "token_type": "Bearer",
                    "expires_in": tokens["expires_in"],
                }
                await _cdp(
                    ws,
                    ids,
                    "Runtime.evaluate",
                    expression=f"localStorage.setItem('hassTokens', {json.dumps(json.dumps(stored))})",
                )
                await _cdp(ws, ids, "Page.navigate", url=f"{HA}{path}")
                await asyncio.sleep(wait)
                shot = await _cdp(ws, ids, "Page.captureScreenshot", format="png")
                png = base64.b64decode(shot["data"])
    finally:
        proc.terminate()
        await proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    return png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tokens", type=Path)
    parser.add_argument("path")
    parser.add_argument("out", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument(
        "--wait", type=float, default=8.0, help="seconds the page gets to render (8)"
    )
    args = parser.parse_args()
    png = asyncio.run(
        shoot(json.loads(args.tokens.read_text()), args.path, args.width, args.height, args.wait)
    )
    args.out.write_bytes(png)
    print(args.out)


if __name__ == "__main__":
    main()
