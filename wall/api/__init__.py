"""HTTP API, one module per concern; each exposes ``routes() -> list[Route]``."""
