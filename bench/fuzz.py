"""Schemathesis against a real bridge's own ``/openapi.json``: no 5xx, and a 4xx changes nothing.

Run ``python -m bench.fuzz [--examples 50] [--seed 0] [--json PATH]``. It
starts ``thermosmart-bridge run`` on loopback as its own process, reads the
bridge's served OpenAPI document with schemathesis, and for every operation
sends ``--examples`` generated requests in each of four kinds: valid data
(schemathesis's positive mode) and invalid data (negative mode), each with
and without a valid owner token. The rules, checked on every answer:

* no answer is a 5xx, and every request gets an answer;
* an answer in the 4xx range leaves the bridge as it was: the thermostat
  object (programs, schedule, exceptions, target, name, ...), the native
  state's options and name, the settings, the token list and the consents
  read the same before and after.

Generated webhook URLs are pointed at a closed loopback port (the bridge
would otherwise POST to whatever host was generated), revoking the fuzzer's
own token is skipped (it would end the run), valid cases get the
thermostat's real hardware id (a generated one is a 404), and redirects are
not followed. A token that an allowed request ended (an erase) is replaced.
The test suite runs the same with few examples
(``tests/bridge/test_fuzz_api.py``).
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterator
import contextlib
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import time
from typing import Any
from urllib.parse import urlsplit

from hypothesis import HealthCheck, Phase, given, seed as hypothesis_seed, settings
from hypothesis.errors import Unsatisfiable
import requests
import schemathesis
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.result import Err

from bench.api import _free_port
from bench.report import write_results

#: Fields of the cloud thermostat object that move on their own (readings).
_MOVING = ("room_temperature", "outside_temperature", "outside_temperature_icon", "ot")
_WEBHOOK_FIELDS = ("webhook_url", "webhook")
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_SINK = "http://127.0.0.1:9/fuzz"
_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})
KINDS = (
    ("positive", GenerationMode.POSITIVE, True),
    ("positive", GenerationMode.POSITIVE, False),
    ("negative", GenerationMode.NEGATIVE, True),
    ("negative", GenerationMode.NEGATIVE, False),
)


@dataclass
class Bridge:
    """A running ``thermosmart-bridge run`` on loopback."""

    base: str
    env: dict[str, str]
    token: str = ""

    def new_token(self) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "bridge", "token", "create", "--name", "fuzz", "--json"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        self.token = json.loads(out)["access_token"]
        return self.token


@contextlib.contextmanager
def running_bridge() -> Iterator[Bridge]:
    """A bridge on the simulated boiler, on a free loopback port, with an owner token."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="ts-fuzz-") as data_dir:
        env = dict(os.environ, THERMOSMART_DATA_DIR=data_dir)
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "bridge", "run", "--host", "127.0.0.1"),
                *("--port", str(port), "--no-zeroconf", "--log-level", "warning"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            bridge = Bridge(f"http://127.0.0.1:{port}", env)
            bridge.new_token()
            deadline = time.monotonic() + 30
            while True:
                try:
                    if requests.get(f"{bridge.base}/api/v1/health", timeout=2).ok:
                        break
                except requests.ConnectionError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the bridge did not start")
                time.sleep(0.1)
            yield bridge
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@dataclass
class Tally:
    """What one operation got."""

    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)
    unsatisfiable: list[str] = field(default_factory=list)
    """Kinds schemathesis could not generate (negative data for a route without input)."""

    def status_classes(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for status, count in self.statuses.items():
            out[f"{status // 100}xx"] += count
        return dict(out)


class Fuzzer:
    """Sends generated cases and checks each answer against the rules."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.http = requests.Session()
        self.hw = self._get("/thermostat")["hw"]
        self.state = self.snapshot()

    def _get(self, path: str) -> Any:
        headers = {"Authorization": f"Bearer {self.bridge.token}"}
        resp = self.http.get(self.bridge.base + path, headers=headers, timeout=10)
        if resp.status_code == 401:  # an allowed request ended the token (an erase)
            headers = {"Authorization": f"Bearer {self.bridge.new_token()}"}
            resp = self.http.get(self.bridge.base + path, headers=headers, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def snapshot(self) -> dict[str, Any]:
        """What a refused request must leave alone."""
        thermostat = self._get(f"/thermostat/{self.hw}")
        for key in _MOVING:
            thermostat.pop(key, None)
        state = self._get("/api/v1/state")
        tokens = [
            {k: t[k] for k in ("id", "name", "kind", "revoked", "expires")}
            for t in self._get("/api/v1/tokens")["tokens"]
        ]
        return {
            "thermostat": thermostat,
            "options": state["options"],
            "name": state["bridge"]["name"],
            "settings": self._get("/api/v1/settings"),
            "tokens": tokens,
            "consents": self._get("/api/v1/privacy/consents"),
        }

    def _own_token_id(self) -> str:
        return next(str(t["id"]) for t in self._get("/api/v1/tokens")["tokens"] if t.get("current"))

    def _tame(self, case: Case[Any], *, positive: bool) -> bool:
        """Keep a case on loopback and away from the fuzzer's own token, and give valid
        cases the real hardware id; False: skip it."""
        if positive and case.path_parameters and "hw" in case.path_parameters:
            case.path_parameters["hw"] = self.hw
        body = case.body
        if isinstance(body, dict):
            for name in _WEBHOOK_FIELDS:
                url = body.get(name)
                if isinstance(url, str) and url:
                    try:
                        host = urlsplit(url).hostname
                    except ValueError:
                        host = None
                    if host not in _LOOPBACK_HOSTS:
                        body[name] = _SINK
        if case.operation.path == "/api/v1/tokens/{id}" and case.method.upper() == "DELETE":
            token_id = (case.path_parameters or {}).get("id")
            return str(token_id).lstrip("0") != self._own_token_id().lstrip("0")
        return True

    def plain(self, method: str, path: str, tally: Tally) -> None:
        """A request without parameters or body, with and without a token."""
        for headers in ({"Authorization": f"Bearer {self.bridge.token}"}, {}):
            response = self.http.request(
                method, self.bridge.base + path, headers=headers, timeout=15
            )
            tally.cases += 1
            tally.statuses[response.status_code] += 1
            if response.status_code >= 500:
                problem = f"answered {response.status_code}"
                tally.failures.append({"operation": f"{method} {path}", "problem": problem})

    def one(self, case: Case[Any], *, with_token: bool, tally: Tally, kind: str) -> None:
        """Send ``case`` and check the answer."""
        if not self._tame(case, positive=kind.startswith("positive")):
            return
        headers = {"Authorization": f"Bearer {self.bridge.token}"} if with_token else {}
        label = f"{case.method.upper()} {case.operation.path}"
        try:
            response = case.call(
                base_url=self.bridge.base,
                session=self.http,
                headers=headers,
                allow_redirects=False,
                timeout=15,
            )
        except requests.RequestException as err:
            tally.cases += 1
            tally.failures.append({"operation": label, "kind": kind, "error": repr(err)})
            return
        tally.cases += 1
        status = response.status_code
        tally.statuses[status] += 1
        after = self.snapshot()
        problem = None
        if status >= 500:
            problem = f"answered {status}"
        elif 400 <= status < 500 and after != self.state:
            problem = f"answered {status} but changed the state"
        if problem is not None:
            tally.failures.append(
                {
                    "operation": label,
                    "kind": kind,
                    "token": with_token,
                    "problem": problem,
                    "answer": response.text[:300],
                    "request": case.as_curl_command(headers=headers)[:600],
                }
            )
        self.state = after


def _fuzz(
    fuzzer: Fuzzer,
    operation: APIOperation[Any, Any, Any, Any],
    *,
    mode: GenerationMode,
    examples: int,
    seed: int,
    with_token: bool,
    tally: Tally,
    name: str,
) -> None:
    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Case[Any]) -> None:
        fuzzer.one(case, with_token=with_token, tally=tally, kind=name)

    try:
        check()
    except Unsatisfiable:  # nothing to get wrong: no parameters and no body
        tally.unsatisfiable.append(name)


def run(examples: int, seed: int = 0) -> dict[str, Any]:
    """Fuzz every operation of a fresh bridge; the counts per operation and the failures."""
    started = time.monotonic()
    with running_bridge() as bridge:
        schema = schemathesis.openapi.from_url(f"{bridge.base}/openapi.json")
        documented = sorted(
            f"{method.upper()} {path}"
            for path, item in schema.raw_schema["paths"].items()
            for method in item
            if method in _METHODS
        )
        fuzzer = Fuzzer(bridge)
        tallies: dict[str, Tally] = {}
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                raise result.err()
            operation = result.ok()
            label = f"{operation.method.upper()} {operation.path}"
            tally = tallies.setdefault(label, Tally())
            for kind, mode, with_token in KINDS:
                name = f"{kind}, {'token' if with_token else 'no token'}"
                _fuzz(
                    fuzzer,
                    operation,
                    mode=mode,
                    examples=examples,
                    seed=seed,
                    with_token=with_token,
                    tally=tally,
                    name=name,
                )
        # schemathesis leaves out the document it was loaded from: ask for it plainly
        for label in documented:
            method, path = label.split(" ", 1)
            if label not in tallies and "{" not in path:
                fuzzer.plain(method, path, tallies.setdefault(label, Tally()))
    elapsed = time.monotonic() - started
    failures = [f for t in tallies.values() for f in t.failures]
    statuses: Counter[int] = Counter()
    for t in tallies.values():
        statuses.update(t.statuses)
    return {
        "examples_per_kind": examples,
        "kinds": [f"{k}, {'token' if t else 'no token'}" for k, _m, t in KINDS],
        "seed": seed,
        "operations": len(tallies),
        "documented_operations": documented,
        "cases": sum(t.cases for t in tallies.values()),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "per_operation": {
            label: {"cases": t.cases, **t.status_classes(), "failures": len(t.failures)}
            for label, t in sorted(tallies.items())
        },
        "failures": failures,
        "held": not failures,
        "seconds": round(elapsed, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="schemathesis against a real bridge")
    parser.add_argument("--examples", type=int, default=50, help="per operation and kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    results = run(args.examples, args.seed)
    print(f"{'operation':<46}{'cases':>7}{'2xx':>6}{'3xx':>6}{'4xx':>6}{'5xx':>6}{'fail':>6}")
    for label, row in results["per_operation"].items():
        print(
            f"{label:<46}{row['cases']:>7}{row.get('2xx', 0):>6}{row.get('3xx', 0):>6}"
            f"{row.get('4xx', 0):>6}{row.get('5xx', 0):>6}{row['failures']:>6}"
        )
    print(
        f"{results['operations']} operations, {results['cases']} requests in "
        f"{results['seconds']} s; no 5xx and no 4xx that changed state: "
        f"{'held' if results['held'] else 'FAILED'}"
    )
    for failure in results["failures"][:20]:
        print(json.dumps(failure))
    write_results(args.json, "fuzz", results)
    return 0 if results["held"] else 1


if __name__ == "__main__":
    sys.exit(main())
