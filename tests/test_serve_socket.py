"""The server's listening socket: connections accepted on it get TCP_NODELAY.

asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; a socket made
with proto 0 left Nagle on, and every response after a connection's first one
waited ~40 ms for the client's delayed ACK (headers and body are two writes).
"""
from __future__ import annotations

import asyncio
import socket

from iocwall.wall.serve import bind_socket


async def test_accepted_connections_have_nodelay() -> None:
    sock = bind_socket("127.0.0.1", 0)
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = writer.get_extra_info("socket")
        seen.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(handle, sock=sock)
    try:
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        assert await asyncio.wait_for(seen, 5) == 1
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
