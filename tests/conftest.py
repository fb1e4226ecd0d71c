"""Shared fixtures live in tests/fixtures/, one module per real component."""
pytest_plugins = [
    "tests.fixtures.simulator",
    "tests.fixtures.redis_server",
    "tests.fixtures.postgres_server",
    "tests.fixtures.app",
    "tests.fixtures.browser",
]
