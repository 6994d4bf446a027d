"""ThermoSmart Local benchmarks: run one with ``python -m bench.NAME``."""
