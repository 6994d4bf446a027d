"""The API's payloads as models: one class per component of ``/openapi.json``.

Each module holds one area's models (see :mod:`bridge.core.contract` for
how a model becomes a schema and a JSON value). :data:`ALL` lists the roots
the OpenAPI document is generated from; every other component is reachable
from them.
"""
