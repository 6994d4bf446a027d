"""The bridge's HTTP API: the cloud-compatible routes, the native /api/v1 routes and push."""
