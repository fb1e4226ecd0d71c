"""What a technician runs on site: camera simulator, smoke test, display-node agent."""
