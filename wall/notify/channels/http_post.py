"""One HTTP POST with an outcome a person can read: the part webhook and SMS share."""
from __future__ import annotations

import httpx

from iocwall.wall.notify.message import SendError

# Refusals that retrying cannot fix: the request itself is wrong (or not allowed).
# 408 and 429 are the receiver asking us to come back later; 5xx its own trouble.
_RETRYABLE_4XX = {408, 425, 429}


async def post(client: httpx.AsyncClient, url: str, what: str, content: bytes,
               headers: dict[str, str]) -> httpx.Response:
    """POST ``content``; the response when 2xx, else SendError naming ``what`` and the
    status (never the headers, which may carry keys)."""
    try:
        response = await client.post(url, content=content, headers=headers)
    except httpx.HTTPError as exc:
        raise SendError(f"{what} {_host(url)}: {type(exc).__name__}: {exc}"[:300]) from None
    if 200 <= response.status_code < 300:
        return response
    code = response.status_code
    snippet = response.text[:120].replace("\n", " ")
    raise SendError(f"{what} {_host(url)} answered {code} {response.reason_phrase}: {snippet}",
                    permanent=400 <= code < 500 and code not in _RETRYABLE_4XX)


def _host(url: str) -> str:
    """Scheme and host only: a gateway URL may carry a key in its path or query."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"
