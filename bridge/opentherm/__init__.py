"""OpenTherm: protocol codec, data-id registry, master schedule and boiler links."""
