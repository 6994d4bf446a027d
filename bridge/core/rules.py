"""Rules that describe themselves: a request model's field names one.

A :class:`Rule` both checks a value and says, as JSON Schema keywords, what
it accepts, so :func:`~bridge.core.decoding.decode` and ``/openapi.json``
share each bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import voluptuous as vol

from bridge.core.programs import MAX_EXCEPTIONS, TEMPERATURE_MAX, TEMPERATURE_MIN
from bridge.core.schemas import (
    EXCEPTIONS_SCHEMA,
    PROGRAM_CHANGES_SCHEMA,
    PROGRAMS_SCHEMA,
    SCHEDULE_SCHEMA,
)
from bridge.core.validation import (
    EMAIL_MAX,
    LOCATION_MAX,
    NAME_MAX,
    OUTSIDE_TEMPERATURE_RANGE,
    ROOM_TEMPERATURE_RANGE,
    check_email,
    check_name,
    optional_text,
    outside_temperature,
    temperature_in,
    text,
)


class Rule:
    """A validator that also says, as JSON Schema keywords, what it checks.

    A request model's field names it (``spec(rule=...)``): :func:`decode`
    checks the field with it and the field's schema in ``/openapi.json``
    carries :meth:`json_schema`, so a bound is written once.
    """

    __slots__ = ("_check", "_schema")

    def __init__(self, check: Callable[[Any], Any], **schema: Any) -> None:
        self._check = check
        self._schema = schema

    def __call__(self, value: Any) -> Any:
        return self._check(value)

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema keywords of what the rule accepts."""
        return dict(self._schema)


def temperature_rule(low: float, high: float) -> Rule:
    """A number within ``[low, high]`` °C (a numeric string too), rounded to 0.1 °C."""
    return Rule(temperature_in(low, high), minimum=low, maximum=high)


def text_rule(min_length: int, max_length: int) -> Rule:
    """A string of ``min_length`` to ``max_length`` characters."""
    return Rule(
        vol.All(text, vol.Length(min=min_length, max=max_length)),
        minLength=min_length,
        maxLength=max_length,
    )


def setting_rule(check: Callable[[Any], None], *, allow_empty: bool = True, **schema: Any) -> Rule:
    """A rule from a stored setting's checker (its :class:`ValueError` words are the rule)."""

    def run(value: Any) -> Any:
        try:
            check(value)
        except ValueError as err:
            raise vol.Invalid(str(err)) from None
        if not allow_empty and value == "":
            raise vol.Invalid("must not be empty (null clears it)")
        return value

    return Rule(run, **schema)


#: The thermostat's name, the city and the e-mail address, as the owner sets them.
NAME_RULE = setting_rule(check_name, minLength=1, maxLength=NAME_MAX)
LOCATION_RULE = setting_rule(
    optional_text(LOCATION_MAX), allow_empty=False, minLength=1, maxLength=LOCATION_MAX
)
EMAIL_RULE = setting_rule(check_email, allow_empty=False, minLength=3, maxLength=EMAIL_MAX)

#: A manual target: 5-30 °C.
TARGET_RULE = temperature_rule(TEMPERATURE_MIN, TEMPERATURE_MAX)
#: An external room temperature: -20-50 °C.
ROOM_RULE = temperature_rule(*ROOM_TEMPERATURE_RANGE)
#: A pushed outside temperature (-50-60 °C), or ``"auto"`` -> ``None``.
OUTSIDE_RULE = Rule(
    outside_temperature,
    minimum=OUTSIDE_TEMPERATURE_RANGE[0],
    maximum=OUTSIDE_TEMPERATURE_RANGE[1],
)
#: All five programs -> :class:`Programs`.
PROGRAMS_RULE = Rule(PROGRAMS_SCHEMA)
#: Some programs -> ``{name: temperature}``.
PROGRAM_CHANGES_RULE = Rule(PROGRAM_CHANGES_SCHEMA)
#: The week schedule -> :class:`WeekSchedule`.
SCHEDULE_RULE = Rule(SCHEDULE_SCHEMA)
#: The exceptions -> a tuple of :class:`ExceptionPeriod`.
EXCEPTIONS_RULE = Rule(EXCEPTIONS_SCHEMA, maxItems=MAX_EXCEPTIONS)


def _confirm(value: Any) -> bool:
    if value is not True:
        raise vol.Invalid("must be true to erase")
    return True


def _text_or_null(value: Any) -> str | None:
    return None if value is None else text(value)


#: A string or null (a webhook URL: what makes a good one the webhook service checks).
TEXT_OR_NULL_RULE = Rule(_text_or_null)

TERMS_VERSION_MAX = 32


def _terms_version(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > TERMS_VERSION_MAX:
        raise vol.Invalid(f"must be a non-empty string of at most {TERMS_VERSION_MAX} characters")
    return text(value)


#: The version of the terms a consent was given under.
TERMS_VERSION_RULE = Rule(_terms_version, minLength=1, maxLength=TERMS_VERSION_MAX)


def is_terms_version(value: Any) -> bool:
    """Whether ``value`` is a terms version a consent can be given under (the cloud's
    current version must be one, or the owner could not consent under it)."""
    try:
        _terms_version(value)
    except vol.Invalid:
        return False
    return isinstance(value, str) and value.isprintable()


#: ``true`` and nothing else (an erase's confirmation).
CONFIRM_RULE = Rule(_confirm)
