"""The client's address: the TCP peer, or X-Forwarded-For only when the peer is a proxy
listed in ``[server] trusted_proxies``.

The address keys the login limiter and is written to the audit log, so a header
any client can set must not choose it. Behind trusted proxies the client is the
right-most address in X-Forwarded-For that is not itself a trusted proxy: each
proxy appends the address it saw, so anything left of that was written by the
client and proves nothing.

Pure ASGI: it rewrites ``scope["client"]`` once, so ``request.client`` is right
everywhere (API, pages, WHEP, audit).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    def __init__(self, app: ASGIApp, proxies: Iterable[str] = ()) -> None:
        self.app = app
        self._networks: list[IPNetwork] = [ipaddress.ip_network(p.strip(), strict=False)
                                           for p in proxies]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._networks and scope["type"] in ("http", "websocket") and scope.get("client"):
            peer = scope["client"][0]
            if self.trusted(peer):
                client = self.client_of(peer, Headers(scope=scope).getlist("x-forwarded-for"))
                scope = {**scope, "client": (client, 0)}
        await self.app(scope, receive, send)

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._networks)

    def client_of(self, peer: str, forwarded: list[str]) -> str:
        """The right-most forwarded address that is not a trusted proxy; the peer if none
        is usable (no header, or garbage where an address should be)."""
        hops = [h.strip() for value in forwarded for h in value.split(",")]
        for hop in reversed(hops):
            try:
                address = str(ipaddress.ip_address(hop))
            except ValueError:
                return peer                 # our proxy would not write this: stop trusting
            if not self.trusted(address):
                return address
        return peer
