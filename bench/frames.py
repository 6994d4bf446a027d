"""How many OpenTherm frames per second the codec decodes and encodes.

Run ``python -m bench.frames [--json PATH] [--seconds S]``. The mix is one
cycle of a thermostat's conversations with a boiler (status, setpoints,
temperatures, counters, versions, some refusals), as bare frames and as
OpenTherm Gateway monitor lines. Cases:

* ``frame_decode``: ``Frame.from_hex`` + ``decode_value`` per frame;
* ``line_decode``: ``decode_line`` per OTGW line (the ``ot decode`` path);
* ``frame_encode``: ``encode_value`` + ``Frame(...).to_hex`` per frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bench import timing
from bench.timing import Case, measure
from bridge.opentherm.decode import decode_line
from bridge.opentherm.formats import DayTime
from bridge.opentherm.frame import Frame, MsgType
from bridge.opentherm.ids import decode_value, encode_value

RD, WD = MsgType.READ_DATA, MsgType.WRITE_DATA
RA, WA = MsgType.READ_ACK, MsgType.WRITE_ACK
DI, UD = MsgType.DATA_INVALID, MsgType.UNKNOWN_DATAID

MASTER = {"hb": {"ch_enable": True, "dhw_enable": True}}
HEATING = {"hb": MASTER["hb"], "lb": {"ch_active": True, "flame_on": True}}
IDLE = {"hb": MASTER["hb"], "lb": {"ch_active": True}}

# (request type, answer type, data-id, request value, answer value)
CYCLE: tuple[tuple[MsgType, MsgType, int, Any, Any], ...] = (
    (RD, RA, 0, MASTER, HEATING),
    (WD, WA, 1, 55.25, 55.25),
    (RD, RA, 25, None, 48.5),
    (RD, RA, 17, None, 35.0),
    (RD, RA, 0, MASTER, HEATING),
    (WD, WA, 16, 20.5, 20.5),
    (WD, WA, 24, 19.75, 19.75),
    (RD, RA, 18, None, 1.6),
    (RD, RA, 28, None, 38.25),
    (RD, RA, 0, MASTER, IDLE),
    (WD, WA, 1, 54.0, 54.0),
    (RD, RA, 26, None, 52.125),
    (RD, RA, 27, None, -3.5),
    (WD, WA, 14, 100.0, 100.0),
    (RD, RA, 3, None, {"hb": {"dhw_present": True}, "lb": 5}),
    (RD, RA, 5, None, {"hb": {}, "lb": 0}),
    (RD, RA, 56, None, 50.0),
    (RD, RA, 57, None, 80.0),
    (RD, RA, 48, None, (60, 40)),
    (RD, RA, 49, None, (85, 20)),
    (RD, RA, 15, None, (24, 20)),
    (RD, RA, 33, None, 75),
    (RD, RA, 116, None, 12345),
    (RD, RA, 120, None, 6789),
    (RD, RA, 125, None, 2.2),
    (RD, RA, 127, None, (1, 5)),
    (WD, WA, 20, DayTime(3, 14, 5), DayTime(3, 14, 5)),
    (RD, RA, 100, None, {"manual_change_priority": True}),
    (RD, DI, 19, None, None),
    (RD, UD, 115, None, None),
)


def _value(data_id: int, value: Any) -> int:
    return 0 if value is None else encode_value(data_id, value)


def build_mix() -> tuple[list[str], list[str], list[tuple[MsgType, int, Any]]]:
    """Bare frames, OTGW lines and (type, id, value) triples for one cycle."""
    frames: list[str] = []
    lines: list[str] = []
    values: list[tuple[MsgType, int, Any]] = []
    for index, (req_type, ans_type, data_id, req_value, ans_value) in enumerate(CYCLE):
        request = Frame(req_type, data_id, _value(data_id, req_value)).to_hex()
        answer = Frame(ans_type, data_id, _value(data_id, ans_value)).to_hex()
        frames += [request, answer]
        # Every fifth conversation goes through the gateway's override path.
        lines += [f"T{request}", f"B{answer}"]
        if index % 5 == 4:
            lines += [f"R{request}", f"A{answer}"]
        for msg_type, value in ((req_type, req_value), (ans_type, ans_value)):
            if value is not None:
                values.append((msg_type, data_id, value))
    return frames, lines, values


def _measure(run_once: Case, seconds: float) -> dict[str, float]:
    """Call ``run_once`` (which returns the frames it handled) for ``seconds``."""
    count, elapsed = measure(run_once, seconds)
    return {
        "frames": count,
        "seconds": round(elapsed, 4),
        "frames_per_second": round(count / elapsed),
    }


def run(seconds: float) -> dict[str, dict[str, float]]:
    """Every case, each measured for ``seconds``."""
    frames, lines, values = build_mix()

    def frame_decode() -> int:
        for text in frames:
            frame = Frame.from_hex(text)
            decode_value(frame.data_id, frame.value)
        return len(frames)

    def line_decode() -> int:
        for line in lines:
            decode_line(line)
        return len(lines)

    def frame_encode() -> int:
        for msg_type, data_id, value in values:
            Frame(msg_type, data_id, encode_value(data_id, value)).to_hex()
        return len(values)

    cases: dict[str, Callable[[], int]] = {
        "frame_decode": frame_decode,
        "line_decode": line_decode,
        "frame_encode": frame_encode,
    }
    return {name: _measure(case, seconds) for name, case in cases.items()}


def _table(results: dict[str, dict[str, float]]) -> str:
    rows = [f"{'case':<14} {'frames':>10} {'seconds':>8} {'frames/s':>11}"]
    for name, r in results.items():
        rows.append(
            f"{name:<14} {r['frames']:>10,.0f} {r['seconds']:>8.3f} {r['frames_per_second']:>11,.0f}"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print a table and optionally write JSON."""
    return timing.main(
        argv,
        name="frames",
        title="OpenTherm frames",
        description=__doc__.split("\n")[0],
        run=run,
        table=_table,
    )


if __name__ == "__main__":
    raise SystemExit(main())
