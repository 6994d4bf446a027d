"""ThermoSmart Local cloud stand-in (opt-in sync only)."""

__version__ = "0.1.0"
