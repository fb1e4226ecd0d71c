"""Wall controller and web app: config, storage, bus, auth, audit, HTTP API."""
