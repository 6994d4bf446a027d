"""ThermoSmart Local tests."""
