"""The ThermoSmart wall unit's protocol, and a simulated unit.

A unit polls ``GET /api?_<HWID>_<HEX>`` (``THERMOSMART_UNIT.md``): an
ARC4-encrypted query string (:mod:`.crypto`, :mod:`.protocol`) that the
bridge answers with an encrypted ``<ITHERMOSTAT>`` XML document, which may
carry the unit's calendar (:mod:`.calendar`). These modules are pure: no
sockets, no clock. :mod:`.sim` models a unit on the simulated boiler and
house; only its poll client does I/O.
"""
