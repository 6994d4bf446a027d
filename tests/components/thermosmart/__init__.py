"""Tests of the ThermoSmart Local integration."""
