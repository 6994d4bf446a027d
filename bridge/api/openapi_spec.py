"""What ``/openapi.json`` says: one description per route, and the schemas they use.

:data:`OPERATIONS` maps ``(METHOD, path)`` to an OpenAPI 3.1 operation;
:data:`COMPONENTS` holds the shared schemas, responses and security
schemes. :mod:`bridge.api.openapi` builds the document from these for the
routes the app actually serves; a route without an entry here is missing
from the document (and fails the OpenAPI test).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from bridge.opentherm.boiler_state import FAULT_FLAGS, IdCounters
from bridge.opentherm.links.base import LinkCounters
from bridge.services.history import EventKind
from bridge.services.privacy import Purpose
from bridge.services.state import BOILER_COUNTER_IDS

Json = dict[str, Any]

PROGRAM_NAMES = ["anti_freeze", "not_home", "home", "comfort", "pause"]
PURPOSES = [p.value for p in Purpose]
EVENT_KINDS = [k.value for k in EventKind]


# -- schema helpers ------------------------------------------------------------------


def ref(name: str) -> Json:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Json) -> Json:
    """``schema`` or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def obj(
    properties: Json,
    *,
    required: list[str] | None = None,
    closed: bool = True,
    description: str | None = None,
) -> Json:
    """An object schema; every property is required unless ``required`` says otherwise."""
    out: Json = {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }
    if closed:
        out["additionalProperties"] = False
    if description:
        out["description"] = description
    return out


def array(items: Json, **extra: Any) -> Json:
    """An array of ``items``."""
    return {"type": "array", "items": items, **extra}


STR: Json = {"type": "string"}
NUM: Json = {"type": "number"}
INT: Json = {"type": "integer"}
BOOL: Json = {"type": "boolean"}
N_STR: Json = {"type": ["string", "null"]}
N_NUM: Json = {"type": ["number", "null"]}
N_INT: Json = {"type": ["integer", "null"]}
N_BOOL: Json = {"type": ["boolean", "null"]}

OPTION_PROPERTIES: Json = {
    "preheat": {"type": "boolean", "description": "heat up early (optimal start); default true"},
    "heating_system": {
        "type": "string",
        "enum": ["radiators", "underfloor"],
        "description": "picks the heating curve and control defaults; default radiators",
    },
    "max_ch_setpoint": {
        "type": ["number", "null"],
        "minimum": 20,
        "maximum": 90,
        "description": "highest flow temperature, °C (ID 57); null: the heating system's "
        "default (75 radiators, 45 underfloor)",
    },
    "dhw_enable": {"type": "boolean", "description": "hot water on (ID 0 bit 1); default true"},
    "dhw_setpoint": {
        "type": ["number", "null"],
        "description": "hot-water temperature, °C (ID 56); null: leave the boiler's own",
    },
}
TS: Json = {"type": "number", "description": "Unix time in seconds (UTC)"}
N_TS: Json = {"type": ["number", "null"], "description": "Unix time in seconds (UTC)"}
N_ISO: Json = {"type": ["string", "null"], "format": "date-time"}
TEMPERATURE: Json = {"type": "number", "minimum": 5, "maximum": 30, "description": "°C"}


# -- schemas ---------------------------------------------------------------------------

_ID_COUNTERS = obj(
    dict.fromkeys((f.name for f in fields(IdCounters)), INT),
    description="OpenTherm conversation counts (per data-id, or summed).",
)

_LINK_COUNTERS = obj(
    {
        **dict.fromkeys((f.name for f in fields(LinkCounters) if f.name != "extra"), INT),
        "extra": {"type": "object", "additionalProperties": INT},
    },
    description="What the boiler link counts.",
)

_TARGETS = obj(
    {
        "ch_enable": BOOL,
        "control_setpoint": NUM,
        "max_modulation": N_NUM,
        "dhw_enable": N_BOOL,
        "dhw_setpoint": N_NUM,
        "max_ch_setpoint": N_NUM,
    },
    closed=False,
)

_BOILER_VALUE = obj(
    {
        "id": INT,
        "value": {"description": "decoded per the id's format (number, flags object, pair, null)"},
        "raw": {"type": "string", "pattern": "^0x[0-9A-F]{4}$"},
        "updated": TS,
        "stale": BOOL,
    },
    closed=False,
)

_THERMOSTAT_STATE: Json = {
    "hardware_id": STR,
    "room_temperature": N_NUM,
    "target_temperature": NUM,
    "program": nullable(ref("ProgramName")),
    "source": {
        "type": "string",
        "enum": ["schedule", "exception", "manual", "remote", "pause"],
    },
    "until": N_ISO,
    "paused": BOOL,
    "next": obj({"start": N_ISO, "program": STR, "target": NUM}),
    "frost_limited": BOOL,
    "outside_temperature": N_NUM,
    "outside_temperature_source": N_STR,
    "timezone": STR,
    "control": nullable(
        obj(
            {
                "mode": STR,
                "ch_enable": BOOL,
                "control_setpoint": NUM,
                "max_modulation": N_NUM,
                "demand": N_NUM,
                "notes": array(STR),
            }
        )
    ),
    "relay_on": N_BOOL,
    "preheating": {
        "type": "boolean",
        "description": "heating up early for the next home or comfort period (optimal start); "
        "the target is then that period's",
    },
    "preheat_start": {**N_ISO, "description": "when the warm-up in progress began"},
    "current_block": ref("ScheduleBlock"),
    "next_block": ref("ScheduleBlock"),
}

SCHEMAS: Json = {
    "Error": obj(
        {
            "error": {"type": "string", "description": "a short code: invalid, unauthorized, …"},
            "message": STR,
            "errors": array(ref("FieldError")),
        },
        required=["error", "message"],
        description="Every error answer. `errors` names each field and the rule it broke.",
    ),
    "FieldError": obj(
        {
            "field": {
                "type": "string",
                "description": "the field's path, e.g. schedule[3].start[2]",
            },
            "rule": STR,
        }
    ),
    "Health": obj(
        {
            "status": {"const": "ok"},
            "bridge_id": STR,
            "api_version": INT,
            "version": STR,
            "name": STR,
        }
    ),
    "PairRequest": obj(
        {
            "code": {"type": "string", "minLength": 4, "maxLength": 32},
            "client_name": {"type": "string", "minLength": 1, "maxLength": 64, "default": "client"},
        },
        required=["code"],
    ),
    "PairResponse": obj({"access_token": STR, "token_id": STR, "bridge_id": STR}),
    "ProgramName": {"type": "string", "enum": PROGRAM_NAMES},
    "Programs": obj(dict.fromkeys(PROGRAM_NAMES, TEMPERATURE)),
    "ProgramChanges": obj(dict.fromkeys(PROGRAM_NAMES, TEMPERATURE), required=[]),
    "ScheduleEntry": obj(
        {
            "start": array(
                INT,
                minItems=3,
                maxItems=3,
                description="[day, hour, minute]: day 0 = Monday, minute 0/15/30/45",
            ),
            "temperature": ref("ProgramName"),
        }
    ),
    "ExceptionEntry": obj(
        {
            "start": array(
                INT, minItems=5, maxItems=5, description="[Y, M, D, h, m], M 0-11 (January = 0)"
            ),
            "end": array(INT, minItems=5, maxItems=5),
            "temperature": ref("ProgramName"),
            "description": {"type": "string", "maxLength": 30},
        },
        required=["start", "end", "temperature"],
    ),
    "Own": obj({"hw": STR}),
    "CloudThermostat": obj(
        {
            "name": STR,
            "room_temperature": N_NUM,
            "target_temperature": NUM,
            "outside_temperature": N_NUM,
            "outside_temperature_icon": N_STR,
            "programs": ref("Programs"),
            "schedule": array(ref("ScheduleEntry")),
            "exceptions": array(ref("ExceptionEntry")),
            "source": {
                "type": "string",
                "enum": ["schedule", "exception", "manual", "remote", "pause"],
            },
            "fw": STR,
            "location": STR,
            "geofence_enabled": BOOL,
            "geofence_devices": array({}),
            "ot": obj(
                {
                    "enabled": BOOL,
                    "raw": {
                        "type": "object",
                        "propertyNames": {"pattern": "^ot[0-9]+$"},
                        "additionalProperties": {"type": "string", "pattern": "^0x[0-9A-F]{4}$"},
                    },
                }
            ),
        },
        description="The thermostat object of the ThermoSmart cloud API.",
    ),
    "ThermostatUpdate": obj(
        {
            "target_temperature": {
                "type": ["number", "string"],
                "description": "5-30 °C; a manual override until the next schedule block",
            },
            "programs": ref("ProgramChanges"),
            "schedule": {
                "description": "the week schedule (replaced whole); an object of programs "
                "here is taken as `programs`",
                "anyOf": [
                    array(ref("ScheduleEntry"), minItems=1, maxItems=672),
                    ref("ProgramChanges"),
                ],
            },
            "exceptions": array(ref("ExceptionEntry"), maxItems=100),
            "outside_temperature": {
                "type": ["number", "string"],
                "description": '-50-60 °C pushed by a client, or "auto" to drop the pushed value (then only a boiler sensor counts)',
            },
            "room_temperature": {
                "type": ["number", "string"],
                "description": "-20-50 °C from an external sensor",
            },
            "geofence_enabled": BOOL,
        },
        required=[],
        description="Any of these fields; applied whole or not at all.",
    ),
    "PauseRequest": obj({"pause": BOOL}),
    "ThermostatState": obj(
        _THERMOSTAT_STATE,
        description="The thermostat as the native API sees it (more than the cloud object).",
    ),
    "NativeThermostat": obj(
        {
            **_THERMOSTAT_STATE,
            "name": STR,
            "programs": ref("Programs"),
            "schedule": array(ref("ScheduleEntry")),
            "exceptions": array(ref("ExceptionEntry")),
            "geofence_enabled": BOOL,
        },
        description="The live thermostat state plus its programs, schedule and exceptions.",
    ),
    "BoilerSnapshot": obj(
        {
            "connected": BOOL,
            "values": {
                "type": "object",
                "description": "last good value per data-id, by its key (flow_temperature, …)",
                "additionalProperties": _BOILER_VALUE,
            },
            "raw": {"type": "object", "additionalProperties": STR},
            "slave_status": nullable({"type": "object", "additionalProperties": BOOL}),
            "faults": {"type": "object"},
            "capabilities": {"type": "object"},
            "unknown_ids": array(INT),
            "counters": obj(
                {
                    "total": _ID_COUNTERS,
                    "per_id": {"type": "object", "additionalProperties": _ID_COUNTERS},
                    "conversations_per_second": NUM,
                },
                closed=False,
            ),
            "link": obj({"kind": STR, "state": STR}, closed=False),
            "targets": _TARGETS,
            "effective_targets": _TARGETS,
        },
        closed=False,
        description="The OpenTherm master's whole model of the boiler.",
    ),
    "Bounds": obj({"min": INT, "max": INT}),
    "Capabilities": obj(
        {
            "known": {"type": "boolean", "description": "the boiler answered any capability id"},
            "dhw": obj(
                {
                    "present": N_BOOL,
                    "storage_tank": N_BOOL,
                    "setpoint_bounds": nullable(ref("Bounds")),
                    "setpoint_writable": N_BOOL,
                }
            ),
            "ch": obj(
                {
                    "max_setpoint_bounds": nullable(ref("Bounds")),
                    "max_setpoint_writable": N_BOOL,
                    "ch2_present": N_BOOL,
                    "low_off_pump_control_not_allowed": N_BOOL,
                }
            ),
            "cooling_supported": N_BOOL,
            "on_off_control": N_BOOL,
            "max_capacity_kw": N_INT,
            "min_modulation_pct": N_INT,
            "opentherm_version": N_NUM,
            "product": obj({"member_id": N_INT, "type": N_INT, "version": N_INT}),
            "unsupported_ids": array(INT, description="ids answered UNKNOWN-DATAID"),
        },
        description="Boiler capabilities from IDs 3, 6, 15, 48, 49, 125 and 127; "
        "null where the boiler did not say.",
    ),
    "Faults": obj(
        {
            "fault": {"type": ["boolean", "null"], "description": "ID 0 fault bit"},
            "diagnostic_event": {"type": ["boolean", "null"], "description": "ID 0 bit 6"},
            "flags": obj(
                dict.fromkeys(FAULT_FLAGS, N_BOOL),
                description="ID 5 application-specific fault flags",
            ),
            "oem_fault_code": {"type": ["integer", "null"], "description": "ID 5 low byte"},
            "oem_diagnostic_code": {"type": ["integer", "null"], "description": "ID 115"},
            "active": array(STR, description="names of the faults and flags that are on"),
        }
    ),
    "Counters": obj(
        {
            "boiler": nullable(
                obj(
                    dict.fromkeys(BOILER_COUNTER_IDS, N_INT),
                    description="IDs 116-123; null where the boiler does not have them",
                )
            ),
            "opentherm": nullable(_ID_COUNTERS),
            "link": _LINK_COUNTERS,
        }
    ),
    "ScheduleBlock": obj(
        {
            "start": {"type": "string", "format": "date-time", "description": "UTC"},
            "end": {"type": "string", "format": "date-time", "description": "UTC (exclusive)"},
            "program": ref("ProgramName"),
            "target": {"type": "number", "description": "the program's temperature now, °C"},
            "source": {"type": "string", "enum": ["schedule", "exception"]},
            "description": {**N_STR, "description": "the exception's description"},
        },
        description="A stretch of time with one program from the week schedule or one "
        "exception, as the bridge resolves it (daylight-saving changes included; a schedule "
        "block starts at every schedule entry, also when the program stays the same).",
    ),
    "ScheduleBlocks": obj(
        {
            "start": TS,
            "end": TS,
            "timezone": STR,
            "blocks": array(
                ref("ScheduleBlock"),
                description="the blocks overlapping start <= t < end, in order, unclipped",
            ),
        }
    ),
    "Energy": obj(
        {
            "ch_heat_kwh": NUM,
            "ch_gas_kwh": NUM,
            "dhw_heat_kwh": NUM,
            "dhw_gas_kwh": NUM,
        },
        description="Monotonic totals the bridge keeps in its database, integrated from the "
        "burner's output on every measurement sample (60 s): heat delivered and gas used "
        "(net calorific value), for central heating and for hot water, kWh. Null for a "
        "boiler whose output cannot be told (a relay, or no capacity reported in ID 15).",
    ),
    "NativeState": obj(
        {
            "bridge": obj({"bridge_id": STR, "name": STR, "version": STR, "api_version": INT}),
            "link": obj({"kind": STR, "opentherm": BOOL, "state": STR}),
            "thermostat": ref("NativeThermostat"),
            "boiler": nullable(ref("BoilerSnapshot")),
            "capabilities": nullable(ref("Capabilities")),
            "faults": nullable(ref("Faults")),
            "counters": ref("Counters"),
            "predictions": ref("Predictions"),
            "options": ref("Options"),
            "energy": nullable(ref("Energy")),
        },
        description="Everything the native API shows. `boiler`, `capabilities` and `faults` "
        "are null for an on/off (relay) boiler.",
    ),
    "History": obj(
        {
            "key": STR,
            "resolution": {"type": "string", "enum": ["raw", "hourly"]},
            "start": TS,
            "end": TS,
            "points": {
                "description": "raw: [[ts, value], …]; hourly: [{hour, min, max, mean, count}, …]",
                "anyOf": [
                    array(array(NUM, minItems=2, maxItems=2)),
                    array(obj({"hour": INT, "min": NUM, "max": NUM, "mean": NUM, "count": INT})),
                ],
            },
        }
    ),
    "Event": obj(
        {
            "id": INT,
            "ts": TS,
            "kind": {"type": "string", "enum": EVENT_KINDS},
            "code": N_STR,
            "message": STR,
            "data": {"description": "any JSON value"},
        }
    ),
    "Events": obj({"events": array(ref("Event"))}),
    "Diagnostics": obj(
        {
            "versions": obj(
                {
                    "bridge": STR,
                    "api": INT,
                    "python": STR,
                    "aiohttp": STR,
                    "sqlite": STR,
                    "schema": INT,
                }
            ),
            "uptime_s": NUM,
            "link": obj({"kind": STR, "opentherm": BOOL, "state": STR, "counters": _LINK_COUNTERS}),
            "opentherm": nullable(
                obj(
                    {
                        "connected": BOOL,
                        "cycles": INT,
                        "sessions": INT,
                        "conversations_per_second": NUM,
                        "totals": _ID_COUNTERS,
                        "per_id": array(
                            {
                                "type": "object",
                                "required": ["id", "key", "name", "raw", "stale", "age_s"],
                                "properties": {
                                    "id": INT,
                                    "key": STR,
                                    "name": N_STR,
                                    "raw": N_STR,
                                    "stale": N_BOOL,
                                    "age_s": N_NUM,
                                },
                            }
                        ),
                        "unknown_ids": array(obj({"id": INT, "name": N_STR, "since": TS})),
                    }
                )
            ),
            "faults": nullable(ref("Faults")),
            "capabilities": nullable(ref("Capabilities")),
            "recent_faults": array(ref("Event")),
            "storage": obj(
                {
                    "schema_version": INT,
                    "retention_days": obj(
                        {
                            "raw_samples": INT,
                            "hourly_aggregates": INT,
                            "events": INT,
                            "egress_log": INT,
                        }
                    ),
                }
            ),
            "push": nullable(
                obj(
                    {
                        "clients": INT,
                        "messages_sent": INT,
                        "resyncs": INT,
                        "dropped_clients": INT,
                    }
                )
            ),
        },
        description="Counters, versions and uptime; no personal data, tokens or hardware id.",
    ),
    "Predictions": obj(
        {
            "available": {
                "type": "boolean",
                "description": "false until the first room reading; `predictions` is then {}",
            },
            "status": {
                "type": "string",
                "description": "learning, ready, or fallback: <why> (a frozen or missing "
                "sensor, no outside temperature); learning not started before any reading",
            },
            "updated": {**N_TS, "description": "the time the values refer to (Unix s)"},
            "predictions": {
                "anyOf": [
                    obj(
                        {
                            "learned": {
                                "type": "boolean",
                                "description": "the learned model is in use (else a default)",
                            },
                            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                            "progress": {
                                "type": "integer",
                                "minimum": 0,
                                "maximum": 100,
                                "description": "learning progress, %",
                            },
                            "heat_loss_w_per_k": {**NUM, "description": "heat-loss coefficient"},
                            "time_constant_h": {**NUM, "description": "lumped time constant"},
                            "rmse_1h": {**N_NUM, "description": "own 1-hour forecast error, K"},
                            "rmse_3h": {**N_NUM, "description": "own 3-hour forecast error, K"},
                            "notes": array(STR, description="assumptions the figures rest on"),
                            "room_forecast": nullable(
                                obj(
                                    {
                                        "start_ts": TS,
                                        "step_s": NUM,
                                        "room_c": array(NUM),
                                        "target_c": array(NUM),
                                    },
                                    description="room temperature at start_ts + (i+1) * step_s "
                                    "(6 h at 15 min) if the thermostat follows its schedule, "
                                    "and the target then",
                                )
                            ),
                            "target_temperature": {
                                **N_NUM,
                                "description": "the target time_to_target_s refers to",
                            },
                            "time_to_target_s": {
                                **N_NUM,
                                "description": "seconds of heating to reach it; 0 there "
                                "already, null not reachable",
                            },
                            "optimal_start": nullable(
                                obj(
                                    {
                                        "start_ts": TS,
                                        "start": {"type": "string", "format": "date-time"},
                                        "period_start": {"type": "string", "format": "date-time"},
                                        "program": STR,
                                        "target": NUM,
                                        "arrival_ts": N_TS,
                                        "margin_s": NUM,
                                        "on_time": BOOL,
                                    },
                                    description="the warm-up for the next home or comfort "
                                    "period; null without one, or while the model is not "
                                    "confident or preheat is off",
                                )
                            ),
                            "preheat_start": {
                                **N_ISO,
                                "description": "optimal_start.start as a date-time",
                            },
                            "preheating": BOOL,
                            "preheat_enabled": {
                                "type": "boolean",
                                "description": "the owner's option (PUT /api/v1/options)",
                            },
                            "balance_offset_k": {
                                **NUM,
                                "description": "free heat over the heat-loss coefficient; the "
                                "heating curve counts its load from outside + this",
                            },
                            "emitters": nullable(
                                obj(
                                    {
                                        "coefficient_w": NUM,
                                        "exponent": NUM,
                                        "loop_w_per_k": NUM,
                                    },
                                    description="learned emitters: heat = coefficient * "
                                    "(mean water - room) ** exponent",
                                )
                            ),
                        },
                        closed=False,
                    ),
                    obj({}, description="no values yet"),
                ]
            },
        },
        closed=False,
        description="The learning module's outputs, also pushed as the native state's "
        "`predictions`. Fields are only ever added.",
    ),
    "Options": obj(
        OPTION_PROPERTIES,
        description="Per-bridge options with their defaults filled in.",
    ),
    "OptionsChange": {
        **obj(
            OPTION_PROPERTIES,
            required=[],
            description="Any of the options; checked whole, and nothing changes on an error. "
            "Temperatures are checked against the boiler's bounds where it told them; boiler "
            "options on a relay and hot-water options on a boiler without hot water are refused.",
        ),
        "minProperties": 1,
    },
    "Settings": obj(
        {
            "name": {"type": "string", "minLength": 1, "maxLength": 64},
            "location": {
                "type": ["string", "null"],
                "maxLength": 100,
                "description": "the city, used only for weather",
            },
            "email": {"type": ["string", "null"], "maxLength": 254},
        }
    ),
    "SettingsUpdate": obj(
        {
            "name": {"type": "string", "minLength": 1, "maxLength": 64},
            "location": {"type": ["string", "null"], "minLength": 1, "maxLength": 100},
            "email": {"type": ["string", "null"], "minLength": 3, "maxLength": 254},
        },
        required=[],
        description="Any of these (at least one); null clears location or e-mail.",
    ),
    "Token": obj(
        {
            "id": STR,
            "name": STR,
            "kind": {"type": "string", "enum": ["api", "oauth_access", "oauth_refresh", "paired"]},
            "created": TS,
            "last_used": N_TS,
            "expires": N_TS,
            "revoked": N_TS,
            "client_id": N_STR,
            "active": BOOL,
            "current": {"type": "boolean", "description": "the token of this request"},
        }
    ),
    "Tokens": obj({"tokens": array(ref("Token"))}),
    "RevokedToken": obj({"token": ref("Token")}),
    "Export": obj(
        {
            "format": {"const": "thermosmart-local-export"},
            "schema_version": INT,
            "exported_at": TS,
            "settings": {"type": "object"},
            "schedule": array(
                obj({"day": INT, "hour": INT, "minute": INT, "program": ref("ProgramName")})
            ),
            "exceptions": array(
                obj({"start": STR, "end": STR, "program": ref("ProgramName"), "description": STR})
            ),
            "measurements": obj(
                {
                    "samples": {"type": "object", "additionalProperties": array(array(NUM))},
                    "hourly": {"type": "object", "additionalProperties": array({"type": "object"})},
                }
            ),
            "events": array(ref("Event")),
            "learning": {"type": "object"},
            "energy_kwh": {
                "type": "object",
                "description": "the energy counters' totals by name",
                "additionalProperties": NUM,
            },
            "consents": array(ref("Consent")),
            "egress_log": array(ref("EgressRecord")),
            "webhooks": array({"type": "object"}),
            "tokens": array({"type": "object"}),
            "oauth_clients": array({"type": "object"}),
        },
        closed=False,
        description="Everything stored about the household (no secrets, no hashes).",
    ),
    "EraseRequest": obj(
        {
            "confirm": {"const": True},
            "revoke_tokens": {
                "type": "boolean",
                "default": False,
                "description": "also revoke every token (the caller's too)",
            },
        },
        required=["confirm"],
    ),
    "EraseResult": obj(
        {
            "erased": {
                "type": "object",
                "description": "rows deleted (or tokens revoked) per class",
                "additionalProperties": INT,
            },
            "tokens_revoked": BOOL,
        }
    ),
    "Consent": obj(
        {
            "id": INT,
            "purpose": {"type": "string", "enum": PURPOSES},
            "granted": BOOL,
            "ts": TS,
            "terms_version": STR,
        }
    ),
    "Consents": obj(
        {
            "consents": obj(
                {p: obj({"granted": BOOL, "terms_version": N_STR, "ts": N_TS}) for p in PURPOSES},
                description="the decision in force per purpose (not granted until granted)",
            ),
            "history": array(ref("Consent")),
        }
    ),
    "ConsentUpdate": obj(
        {
            "granted": BOOL,
            "terms_version": {"type": "string", "minLength": 1, "maxLength": 32},
        }
    ),
    "EgressRecord": obj(
        {
            "id": INT,
            "ts": TS,
            "host": STR,
            "path": STR,
            "purpose": STR,
            "fields": array(STR, description="field names sent (never their values)"),
            "bytes": INT,
        }
    ),
    "Egress": obj({"records": array(ref("EgressRecord"))}),
    "WsState": obj(
        {"type": {"const": "state"}, "seq": INT, "data": ref("NativeState")},
        description="The whole native state: first on connect, after a resync.",
    ),
    "WsChanged": obj(
        {
            "type": {"const": "changed"},
            "seq": INT,
            "data": {
                "type": "object",
                "description": "a deep-merge patch of the native state: objects merge key by "
                "key, other values replace; keys are never removed",
            },
        }
    ),
    "WsPong": obj({"type": {"const": "pong"}}),
    "WsError": obj(
        {
            "type": {"const": "error"},
            "error": STR,
            "message": STR,
            "errors": array(ref("FieldError")),
        }
    ),
    "WsServerMessage": {
        "oneOf": [ref("WsState"), ref("WsChanged"), ref("WsPong"), ref("WsError")],
    },
    "WsClientMessage": obj({"type": {"type": "string", "enum": ["ping", "resync"]}}),
    "LoginForm": obj(
        {
            "username": {"type": "string", "description": "the hardware id or the owner's e-mail"},
            "password": STR,
        },
        required=["username", "password"],
        closed=False,
    ),
    "DecisionForm": obj({"transaction_id": STR}, closed=False),
    "TokenForm": obj(
        {
            "grant_type": {"type": "string", "enum": ["authorization_code", "refresh_token"]},
            "code": STR,
            "redirect_uri": STR,
            "refresh_token": STR,
            "client_id": STR,
            "client_secret": STR,
        },
        required=["grant_type"],
        closed=False,
    ),
    "OAuthToken": obj(
        {
            "access_token": STR,
            "token_type": {"const": "Bearer"},
            "expires_in": INT,
            "refresh_token": STR,
            "scope": {"const": "ot"},
            "thermostat": STR,
        },
        closed=False,
    ),
    "OAuthError": obj(
        {"error": STR, "error_description": STR},
        required=["error"],
        closed=False,
        description="RFC 6749 error answer",
    ),
    "WebhookRegistration": obj(
        {"webhook_url": {"type": ["string", "null"], "description": "empty or null removes it"}}
    ),
    "LegacyWebhookRegistration": obj(
        {"webhook": {"type": ["string", "null"], "description": "empty or null removes it"}}
    ),
    "WebhookMessage": {
        "type": "object",
        "required": ["thermostat"],
        "properties": {"thermostat": STR, "code": INT},
        "description": "What the bridge POSTs to a webhook: the hardware id and only the "
        'changed fields of the thermostat object (`{"ot": {"raw": {…}}}` for OpenTherm); '
        '`{"code": 510}` says the webhook expired.',
    },
}


# -- responses and parameters ---------------------------------------------------------


def _error(description: str, **extra: Any) -> Json:
    return {
        "description": description,
        "content": {"application/json": {"schema": ref("Error")}},
        **extra,
    }


RESPONSES: Json = {
    "BadRequest": _error("Bad input: `errors` names each field and the rule; nothing changed."),
    "Unauthorized": _error(
        "Missing, unknown, expired or revoked token.",
        headers={"WWW-Authenticate": {"schema": STR, "description": 'Bearer realm="thermosmart"'}},
    ),
    "Forbidden": _error("The token may not do this (an owner token is needed)."),
    "NotFound": _error("No such thermostat or object."),
    "PayloadTooLarge": _error("The body is larger than 64 KiB."),
    "UnsupportedMediaType": _error("The body is not application/json."),
    "TooManyRequests": _error(
        "Too many failures from this address; wait and try again.",
        headers={"Retry-After": {"schema": INT, "description": "seconds"}},
    ),
}

SECURITY_SCHEMES: Json = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from pairing, `thermosmart-bridge token create` or OAuth.",
    },
    "accessToken": {
        "type": "apiKey",
        "in": "query",
        "name": "access_token",
        "description": "The same token in the query, as older ThermoSmart clients send it.",
    },
    "oauth2": {
        "type": "oauth2",
        "description": "The ThermoSmart authorization-code flow, with rotating refresh tokens.",
        "flows": {
            "authorizationCode": {
                "authorizationUrl": "/oauth2/authorize",
                "tokenUrl": "/oauth2/token",
                "refreshUrl": "/oauth2/token",
                "scopes": {"ot": "read and steer the thermostat"},
            }
        },
    },
    "clientBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "OAuth client credentials (client_id:client_secret).",
    },
}

COMPONENTS: Json = {
    "schemas": SCHEMAS,
    "responses": RESPONSES,
    "securitySchemes": SECURITY_SCHEMES,
}

TOKEN_SECURITY: list[Json] = [{"bearer": []}, {"accessToken": []}]
CLOUD_SECURITY: list[Json] = [*TOKEN_SECURITY, {"oauth2": ["ot"]}]
PUBLIC: list[Json] = []


def _r(name: str) -> Json:
    return {"$ref": f"#/components/responses/{name}"}


def json_ok(schema: Json, description: str = "OK") -> Json:
    """A 200 answer with a JSON body."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_body(schema: Json, *, required: bool = True, form: bool = False) -> Json:
    """A JSON request body (``form``: also accepted as a form body)."""
    content: Json = {"application/json": {"schema": schema}}
    if form:
        content["application/x-www-form-urlencoded"] = {"schema": schema}
    return {"required": required, "content": content}


def form_body(schema: Json) -> Json:
    """A form request body."""
    return {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}


def query(name: str, description: str, schema: Json | None = None, **extra: Any) -> Json:
    """A query parameter."""
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": schema or STR,
        **extra,
    }


def path_param(name: str, description: str, schema: Json | None = None) -> Json:
    """A path parameter."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or STR,
    }


TIME: Json = {
    "type": "string",
    "description": "ISO 8601 with an offset (2026-01-31T08:00:00+01:00 or …Z) or Unix seconds",
}
HW = path_param("hw", "the thermostat's hardware id (GET /thermostat tells it)")

AUTH_ERRORS: Json = {"401": _r("Unauthorized")}
QUERY_ERRORS: Json = {"400": _r("BadRequest"), **AUTH_ERRORS}
BODY_ERRORS: Json = {
    "400": _r("BadRequest"),
    **AUTH_ERRORS,
    "413": _r("PayloadTooLarge"),
    "415": _r("UnsupportedMediaType"),
}
OWNER_ERRORS: Json = {"403": _r("Forbidden")}


def op(
    op_id: str,
    summary: str,
    tag: str,
    responses: Json,
    *,
    description: str | None = None,
    security: list[Json] | None = None,
    parameters: list[Json] | None = None,
    body: Json | None = None,
) -> Json:
    """One operation."""
    out: Json = {"operationId": op_id, "summary": summary, "tags": [tag]}
    if description:
        out["description"] = description
    if parameters:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = body
    out["responses"] = responses
    if security is not None:
        out["security"] = security
    return out


HTML_PAGE: Json = {"text/html": {"schema": STR}}

OPERATIONS: dict[tuple[str, str], Json] = {
    # -- meta and access --
    ("GET", "/openapi.json"): op(
        "getOpenApi",
        "This document",
        "meta",
        {"200": json_ok({"type": "object"}, "The OpenAPI 3.1 description of every route.")},
        security=PUBLIC,
    ),
    ("GET", "/api/v1/health"): op(
        "getHealth",
        "Who this bridge is (no token needed)",
        "meta",
        {"200": json_ok(ref("Health"))},
        security=PUBLIC,
    ),
    ("POST", "/api/v1/pair"): op(
        "pair",
        "Exchange a one-time pairing code for a token",
        "access",
        {
            "200": json_ok(ref("PairResponse")),
            "400": _r("BadRequest"),
            "401": _error("The code is wrong, used or expired."),
            "413": _r("PayloadTooLarge"),
            "415": _r("UnsupportedMediaType"),
            "429": _r("TooManyRequests"),
        },
        description="Codes come from `thermosmart-bridge pair`, are valid 10 minutes and work "
        "once. Repeated wrong codes from one address are answered 429.",
        security=PUBLIC,
        body=json_body(ref("PairRequest")),
    ),
    # -- OAuth (THERMOSMART_API.md) --
    ("GET", "/login"): op(
        "loginPage",
        "The owner's login page",
        "oauth",
        {"200": {"description": "HTML login form", "content": HTML_PAGE}},
        security=PUBLIC,
    ),
    ("POST", "/login"): op(
        "login",
        "Log the owner in (sets a session cookie)",
        "oauth",
        {
            "200": {"description": "Logged in", "content": HTML_PAGE},
            "302": {"description": "Logged in; back to the page that asked for it"},
            "400": _r("BadRequest"),
            "401": {"description": "Wrong username or password", "content": HTML_PAGE},
            "429": _r("TooManyRequests"),
        },
        description="`username` is the hardware id or the owner's e-mail; the password is the "
        "bridge's pairing secret.",
        security=PUBLIC,
        body=form_body(ref("LoginForm")),
    ),
    ("GET", "/oauth2/authorize"): op(
        "authorize",
        "Start the authorization-code flow",
        "oauth",
        {
            "200": {
                "description": "Consent form (with a hidden transaction_id), or the login form",
                "content": HTML_PAGE,
            },
            "302": {"description": "To the login page, or back to redirect_uri with an error"},
            "400": {"description": "Unknown client or redirect_uri", "content": HTML_PAGE},
        },
        security=PUBLIC,
        parameters=[
            query("client_id", "the registered client", required=True),
            query("response_type", "always code", {"const": "code"}, required=True),
            query("redirect_uri", "one of the client's registered URIs", required=True),
            query("scope", "ot", {"const": "ot"}),
            query("state", "returned unchanged"),
        ],
    ),
    ("POST", "/oauth2/authorize/decision"): op(
        "authorizeDecision",
        "The owner allows (or denies) the client",
        "oauth",
        {
            "302": {
                "description": "To redirect_uri?code=…&state=… (or ?error=access_denied)",
                "headers": {"Location": {"schema": STR}},
            },
            "400": {"description": "Unknown or used transaction", "content": HTML_PAGE},
            "401": {"description": "Not logged in", "content": HTML_PAGE},
        },
        security=PUBLIC,
        body=form_body(ref("DecisionForm")),
    ),
    ("POST", "/oauth2/token"): op(
        "token",
        "Exchange a code, or rotate a refresh token",
        "oauth",
        {
            "200": json_ok(ref("OAuthToken")),
            "400": json_ok(ref("OAuthError"), "invalid_request, invalid_grant, …"),
            "401": json_ok(ref("OAuthError"), "invalid_client"),
            "429": _r("TooManyRequests"),
        },
        description="Client credentials by HTTP Basic or as client_id/client_secret form "
        "fields. Refresh tokens rotate: the old one stops working.",
        security=[{"clientBasic": []}, {}],
        body=form_body(ref("TokenForm")),
    ),
    # -- webhooks --
    ("POST", "/"): op(
        "registerWebhook",
        "Register (or with an empty URL remove) the token's webhook",
        "cloud",
        {"200": json_ok(ref("WebhookRegistration")), **BODY_ERRORS},
        description="On every change the bridge POSTs a WebhookMessage to the URL; delivery is "
        "retried with backoff and never blocks the thermostat.",
        security=CLOUD_SECURITY,
        body=json_body(ref("WebhookRegistration")),
    ),
    ("POST", "/webhook"): op(
        "registerWebhookLegacy",
        "The same as POST /, as older clients send it",
        "cloud",
        {"200": json_ok(ref("LegacyWebhookRegistration")), **BODY_ERRORS},
        security=CLOUD_SECURITY,
        body=json_body(ref("LegacyWebhookRegistration")),
    ),
    # -- the cloud-compatible thermostat --
    ("GET", "/thermostat"): op(
        "getOwnThermostat",
        "The thermostat the token belongs to",
        "cloud",
        {"200": json_ok(ref("Own")), **AUTH_ERRORS},
        security=CLOUD_SECURITY,
    ),
    ("GET", "/thermostat/{hw}"): op(
        "getThermostat",
        "The thermostat object",
        "cloud",
        {"200": json_ok(ref("CloudThermostat")), **AUTH_ERRORS, "404": _r("NotFound")},
        security=CLOUD_SECURITY,
        parameters=[HW],
    ),
    ("PUT", "/thermostat/{hw}"): op(
        "updateThermostat",
        "Update the thermostat (whole or not at all)",
        "cloud",
        {
            "200": json_ok(ref("CloudThermostat"), "The updated thermostat object"),
            "204": {"description": "Empty update: nothing to do"},
            **BODY_ERRORS,
            "404": _r("NotFound"),
        },
        description="A target_temperature is a remote override (`source` remote) until the next "
        "schedule block.",
        security=CLOUD_SECURITY,
        parameters=[HW],
        body=json_body(ref("ThermostatUpdate"), form=True),
    ),
    ("POST", "/thermostat/{hw}/pause"): op(
        "pauseThermostat",
        "Pause (hold the pause program) or resume",
        "cloud",
        {"200": json_ok(ref("CloudThermostat")), **BODY_ERRORS, "404": _r("NotFound")},
        security=CLOUD_SECURITY,
        parameters=[HW],
        body=json_body(ref("PauseRequest")),
    ),
    ("POST", "/thermostat/{hw}/unpause"): op(
        "unpauseThermostat",
        "Resume (the same as pause false)",
        "cloud",
        {"200": json_ok(ref("CloudThermostat")), **AUTH_ERRORS, "404": _r("NotFound")},
        security=CLOUD_SECURITY,
        parameters=[HW],
    ),
    # -- native --
    ("GET", "/api/v1/state"): op(
        "getState",
        "The whole native state",
        "native",
        {"200": json_ok(ref("NativeState")), **AUTH_ERRORS},
    ),
    ("GET", "/api/v1/thermostat"): op(
        "getNativeThermostat",
        "The thermostat: live state, programs, schedule, exceptions",
        "native",
        {"200": json_ok(ref("NativeThermostat")), **QUERY_ERRORS},
    ),
    ("PATCH", "/api/v1/thermostat"): op(
        "patchNativeThermostat",
        "Update the thermostat (whole or not at all)",
        "native",
        {"200": json_ok(ref("NativeThermostat")), **BODY_ERRORS},
        description="The fields and rules of PUT /thermostat/{hw} (JSON only; an empty object "
        "is refused). A target_temperature set here is a manual override (`source` manual): "
        "native clients act on the LAN for the people at home, like the dial.",
        body=json_body(ref("ThermostatUpdate")),
    ),
    ("POST", "/api/v1/thermostat/override/clear"): op(
        "clearOverride",
        "Drop a manual or remote override: back to the schedule",
        "native",
        {"200": json_ok(ref("NativeThermostat")), **BODY_ERRORS},
        description="Takes no body (or `{}`).",
    ),
    ("POST", "/api/v1/thermostat/pause"): op(
        "pauseNative",
        "Pause (hold the pause program, frost protection stays) or resume",
        "native",
        {"200": json_ok(ref("NativeThermostat")), **BODY_ERRORS},
        body=json_body(ref("PauseRequest")),
    ),
    ("GET", "/api/v1/history"): op(
        "getHistory",
        "One measured series, raw or hourly",
        "native",
        {"200": json_ok(ref("History")), **QUERY_ERRORS},
        description="The range is start <= t < end, at most 7 days raw or 731 days hourly; "
        "end defaults to now and start to 24 hours before end.",
        parameters=[
            query(
                "key",
                "room_temperature, target_temperature, outside_temperature, flow_temperature, "
                "return_temperature, dhw_temperature, modulation, control_setpoint, "
                "water_pressure, boiler_outside_temperature, flame_on, ch_active, dhw_active, "
                "relay_on (or another recorded series)",
                required=True,
            ),
            query("start", "from", TIME),
            query("end", "until (exclusive)", TIME),
            query("resolution", "raw samples or hourly aggregates", {"enum": ["raw", "hourly"]}),
        ],
    ),
    ("GET", "/api/v1/schedule/blocks"): op(
        "getScheduleBlocks",
        "The resolved schedule: its blocks for a time range",
        "native",
        {"200": json_ok(ref("ScheduleBlocks")), **QUERY_ERRORS},
        description="The blocks of the week schedule and its exceptions that overlap "
        "start <= t < end, at most 31 days; start defaults to now and end to a day after start.",
        parameters=[
            query("start", "from", TIME),
            query("end", "until (exclusive)", TIME),
        ],
    ),
    ("GET", "/api/v1/events"): op(
        "getEvents",
        "The fault and event log, newest first",
        "native",
        {"200": json_ok(ref("Events")), **QUERY_ERRORS},
        parameters=[
            query("since", "from", TIME),
            query("until", "until (exclusive)", TIME),
            query("kind", "comma-separated: " + ", ".join(EVENT_KINDS)),
            query("limit", "1-1000, default 100", {"type": "string", "pattern": "^[0-9]+$"}),
        ],
    ),
    ("GET", "/api/v1/diagnostics"): op(
        "getDiagnostics",
        "Link and master counters, unknown ids, versions, uptime",
        "native",
        {"200": json_ok(ref("Diagnostics")), **QUERY_ERRORS},
    ),
    ("GET", "/api/v1/predictions"): op(
        "getPredictions",
        "What the learning module predicts",
        "native",
        {"200": json_ok(ref("Predictions")), **QUERY_ERRORS},
        description='`{"available": false, "status": "learning not started"}` until the '
        "first room reading; later fields are added, never renamed.",
    ),
    ("GET", "/api/v1/options"): op(
        "getOptions",
        "The per-bridge options",
        "native",
        {"200": json_ok(ref("Options")), **QUERY_ERRORS, **OWNER_ERRORS},
    ),
    ("PUT", "/api/v1/options"): op(
        "putOptions",
        "Change options: warm-up, heating system, maximum flow, hot water",
        "native",
        {"200": json_ok(ref("Options")), **BODY_ERRORS, **OWNER_ERRORS},
        body=json_body(ref("OptionsChange")),
    ),
    ("GET", "/api/v1/settings"): op(
        "getSettings",
        "The thermostat's name, the city and the owner's e-mail",
        "native",
        {"200": json_ok(ref("Settings")), **QUERY_ERRORS, **OWNER_ERRORS},
    ),
    ("PUT", "/api/v1/settings"): op(
        "putSettings",
        "Change any of name, location, e-mail (all or nothing)",
        "native",
        {"200": json_ok(ref("Settings")), **BODY_ERRORS, **OWNER_ERRORS},
        body=json_body(ref("SettingsUpdate")),
    ),
    ("GET", "/api/v1/tokens"): op(
        "listTokens",
        "Every token, active or not (never a secret)",
        "native",
        {"200": json_ok(ref("Tokens")), **QUERY_ERRORS, **OWNER_ERRORS},
    ),
    ("DELETE", "/api/v1/tokens/{id}"): op(
        "revokeToken",
        "Revoke a token (idempotent); its push sockets close with 4401",
        "native",
        {
            "200": json_ok(ref("RevokedToken")),
            **QUERY_ERRORS,
            **OWNER_ERRORS,
            "404": _r("NotFound"),
        },
        parameters=[path_param("id", "the token's id", {"type": "string", "pattern": "^[0-9]+$"})],
    ),
    # -- privacy --
    ("GET", "/api/v1/export"): op(
        "export",
        "Everything stored about the household, as a JSON download",
        "privacy",
        {
            "200": {
                **json_ok(ref("Export")),
                "headers": {
                    "Content-Disposition": {
                        "schema": STR,
                        "description": 'attachment; filename="thermosmart-export-….json"',
                    }
                },
            },
            **QUERY_ERRORS,
            **OWNER_ERRORS,
        },
    ),
    ("POST", "/api/v1/erase"): op(
        "erase",
        "Erase personal data and history; the thermostat keeps heating on defaults",
        "privacy",
        {"200": json_ok(ref("EraseResult")), **BODY_ERRORS, **OWNER_ERRORS},
        description="Name, city, e-mail, programs, schedule, exceptions, overrides, "
        "measurements, events, learning state, egress log and webhooks go; consents (the "
        "record of what the owner agreed to), the hardware id and the tokens stay (unless "
        "revoke_tokens).",
        body=json_body(ref("EraseRequest")),
    ),
    ("GET", "/api/v1/privacy/consents"): op(
        "getConsents",
        "Consent per purpose, and the history of decisions",
        "privacy",
        {"200": json_ok(ref("Consents")), **QUERY_ERRORS, **OWNER_ERRORS},
    ),
    ("PUT", "/api/v1/privacy/consents/{purpose}"): op(
        "putConsent",
        "Grant or revoke one purpose (takes effect at once)",
        "privacy",
        {"200": json_ok(ref("Consent")), **BODY_ERRORS, **OWNER_ERRORS},
        parameters=[path_param("purpose", "the purpose", {"type": "string", "enum": PURPOSES})],
        body=json_body(ref("ConsentUpdate")),
    ),
    ("GET", "/api/v1/privacy/egress"): op(
        "getEgress",
        "Every request that left the LAN, newest first",
        "privacy",
        {"200": json_ok(ref("Egress")), **QUERY_ERRORS, **OWNER_ERRORS},
        parameters=[
            query("since", "from", TIME),
            query("until", "until (exclusive)", TIME),
            query("purpose", "only this purpose"),
            query("limit", "1-1000, default 200", {"type": "string", "pattern": "^[0-9]+$"}),
        ],
    ),
    # -- push --
    ("GET", "/api/v1/ws"): op(
        "push",
        "WebSocket: every change of the native state",
        "push",
        {
            "101": {
                "description": "Switching protocols. Server messages are WsServerMessage: first "
                "a `state` with the whole native state, then a `changed` deep-merge patch per "
                "change (objects merge key by key, other values replace, keys are never "
                "removed), or a new `state` when the client fell behind. Client messages are "
                "WsClientMessage (`ping`, `resync`). Close codes: 1001 bridge stopping, 1013 "
                "client too slow, 4401 token revoked or expired. The server pings every 30 s.",
                "content": {"application/json": {"schema": ref("WsServerMessage")}},
            },
            **AUTH_ERRORS,
            "426": _error("Not a WebSocket upgrade request."),
        },
        description="The token comes in the Authorization header or as ?access_token=; a "
        "missing or bad token is refused with 401 before the upgrade.",
    ),
}

TAGS: list[Json] = [
    {"name": "meta", "description": "This document and the bridge's identity"},
    {"name": "access", "description": "Pairing"},
    {"name": "oauth", "description": "OAuth2 authorization-code flow of the ThermoSmart API"},
    {"name": "cloud", "description": "The cloud-compatible ThermoSmart API (THERMOSMART_API.md)"},
    {"name": "native", "description": "The native API: what the cloud API lacks"},
    {"name": "privacy", "description": "Export, erase, consents and the egress log"},
    {"name": "push", "description": "The WebSocket push channel"},
]
