"""Links from the bridge to a boiler, one module per adapter."""
