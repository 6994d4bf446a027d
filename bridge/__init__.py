"""ThermoSmart Local bridge: the thermostat daemon."""

__version__ = "0.1.0"
