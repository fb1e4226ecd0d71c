"""The login page's ?next= only ever leads to a path of this server, in the real browser:
a tab, CR or LF inside "/<ws>/host" is dropped by the URL parser, turning it into "//host"."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.fixtures.serve_process import ADMIN_PASSWORD, ServeProcess, serve_process

HOSTILE = ["/%09/evil.example", "/%0d/evil.example", "/%0a/evil.example",
           "/%09%0a/evil.example/x?y=1", "%09//evil.example", "/\\evil.example",
           "https://evil.example/", "//evil.example", "javascript:alert(1)",
           # dot segments the parser removes, leaving "//evil.example" as the path
           "/.//evil.example", "/..//evil.example", "/%2e//evil.example", "/x/..//evil.example",
           "/%2E%2E//evil.example", "/x/%2e%2e//evil.example/p?q=1#f", "/./\\evil.example",
           "\\evil", "/\\evil.example", "%2f%2fevil", "/%2f/evil.example", "/%09/evil",
           "javascript:", "https://evil"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    data: Path = tmp_path_factory.mktemp("next") / "data"
    with serve_process(data) as running:
        yield running


def test_next_never_leaves_the_site(browser_page, server: ServeProcess) -> None:
    page = browser_page
    off_site: list[str] = []

    def record(route) -> None:  # type: ignore[no-untyped-def]
        off_site.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<p>evil</p>")

    page.route(lambda url: not url.startswith(server.url), record)
    page.goto(f"{server.url}/login?next={HOSTILE[0]}")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#submit")
    page.wait_for_url(f"{server.url}/")           # a refused next: the admin's home
    for raw in HOSTILE[1:]:                   # logged in: the page forwards at once
        page.goto(f"{server.url}/login?next={raw}")
        page.wait_for_url(f"{server.url}/")
    assert off_site == []
    for good in ("/live?wall=2#tile-3", "/console?x=1#y"):
        page.goto(f"{server.url}/login?next={quote(good)}")
        page.wait_for_url(f"{server.url}{good}")
