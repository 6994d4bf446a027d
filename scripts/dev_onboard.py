"""Finish the development Home Assistant's onboarding and add the bridge, without a browser.

Usage (with scripts/develop running, on a fresh config/):
    .venv/bin/python scripts/dev_onboard.py PAIRING_CODE [--tokens .dev/ha_tokens.json]

Creates the owner user ``dev`` (password ``thermosmart``), saves its tokens
(for scripts/screenshot.py), then runs the ThermoSmart Local config flow
against the bridge on 127.0.0.1:8722 with the pairing code. Everything goes
to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any
import urllib.parse
import urllib.request

HA = "http://127.0.0.1:8123"


def _request(
    method: str, path: str, body: Any = None, token: str | None = None, *, form: bool = False
) -> Any:
    headers: dict[str, str] = {}
    data = None
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(HA + path, data=data, headers=headers, method=method)  # noqa: S310 - loopback only
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
        return json.loads(resp.read() or b"null")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("code")
    parser.add_argument("--tokens", type=Path, default=Path(".dev/ha_tokens.json"))
    args = parser.parse_args()
    client_id = f"{HA}/"
    user = _request(
        "POST",
        "/api/onboarding/users",
        {
            "client_id": client_id,
            "name": "Developer",
            "username": "dev",
            "password": "thermosmart",
            "language": "en",
        },
    )
    tokens = _request(
        "POST",
        "/auth/token",
        {"grant_type": "authorization_code", "code": user["auth_code"], "client_id": client_id},
        form=True,
    )
    token = tokens["access_token"]
    _request(
        "POST",
        "/api/onboarding/integration",
        {"client_id": client_id, "redirect_uri": f"{HA}/?auth_callback=1"},
        token,
    )
    args.tokens.parent.mkdir(parents=True, exist_ok=True)
    args.tokens.write_text(json.dumps(tokens))
    flow = _request("POST", "/api/config/config_entries/flow", {"handler": "thermosmart"}, token)
    flow = _request(
        "POST",
        f"/api/config/config_entries/flow/{flow['flow_id']}",
        {"host": "127.0.0.1", "port": 8722},
        token,
    )
    flow = _request(
        "POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {"code": args.code}, token
    )
    print(
        f"user dev / thermosmart; tokens in {args.tokens}; integration: {flow['type']} {flow.get('title', '')}"
    )


if __name__ == "__main__":
    main()
