"""The client's one exception tree."""

from __future__ import annotations


class ThermoSmartError(Exception):
    """Base of every error the client raises."""


class ThermoSmartConnectionError(ThermoSmartError):
    """The bridge could not be reached, or did not answer in time."""


class ThermoSmartAuthenticationError(ThermoSmartError):
    """The bridge refused the token or the pairing code."""


class ThermoSmartRateLimitError(ThermoSmartError):
    """The bridge slowed us down after repeated failures (HTTP 429)."""


class ThermoSmartResponseError(ThermoSmartError):
    """The bridge answered something that is not what the API promises."""


class ThermoSmartValidationError(ThermoSmartError):
    """The bridge rejected a request's content (HTTP 400).

    ``errors`` lists the bridge's ``{"field": …, "rule": …}`` items.
    """

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class ThermoSmartConflictError(ThermoSmartError):
    """The bridge will not do this now (HTTP 409); ``error`` is its short code
    (for a cloud link: ``no_cloud``, ``no_consent``, ``already_linked``, ``cloud_failed``)."""

    def __init__(self, message: str, error: str) -> None:
        super().__init__(message)
        self.error = error
