"""Keep-alive HTTP/1.1 connections on the standard library's ``http.client``, for the chat stream.

Why not httpx here: the agent's harness overhead per turn is mostly HTTP, and a streamed
completion costs 2-3 times the CPU through ``httpx.Client`` (its h11 state machine handles every
SSE chunk as an event, under two layers of request/response models) as through ``http.client``:
1.53 ms against 0.59 ms on the 2-core benchmark machine (bench/http_clients.py), the difference
between missing and meeting the 2 ms per-turn goal (bench/agent_overhead.py). ``http.client`` is
what urllib3 builds on; this module adds only what the chat client needs on top: a small
thread-safe pool of idle connections, a connect timeout separate from the per-read timeout, and
the one resend a reused connection needs when the server closed it while it sat idle
(llama-server closes the connection after every streamed response without announcing it, and
idle keep-alive connections after 5 s). httpx stays the project's HTTP library everywhere else
(server probes, tests, benches).
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit


class ConnectFailed(OSError):
    """The TCP (or TLS) connection could not be made; nothing was sent. ``timed_out`` tells why."""

    def __init__(self, message: str, *, timed_out: bool) -> None:
        super().__init__(message)
        self.timed_out = timed_out


# A reused connection that fails like this before any response byte was, almost always, closed
# by the server while it sat idle, so the request reached no handler: it is sent once more on a
# new connection (as urllib3 does). A new connection failing like this is a real error.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class Exchange:
    """One response being read; :meth:`close` returns the connection to the pool when it can be."""

    def __init__(self, pool: ConnectionPool, conn: http.client.HTTPConnection, response: http.client.HTTPResponse):
        self._pool, self._conn, self.response = pool, conn, response
        self.status = response.status

    def header(self, name: str) -> str:
        return self.response.getheader(name) or ""

    def chunks(self, size: int = 65536) -> Iterator[bytes]:
        """The body as it arrives, chunked transfer encoding removed."""
        read1 = self.response.read1
        while chunk := read1(size):
            yield chunk

    def read(self) -> bytes:
        return self.response.read()

    def close(self) -> None:
        """Pool the connection if its response was read to the end, else drop it."""
        reusable = self.response.isclosed() and not self.response.will_close
        if not reusable:
            self.response.close()
        self._pool._release(self._conn, reusable)


class ConnectionPool:
    """Idle keep-alive connections to one server (``http`` or ``https``), shared by threads."""

    def __init__(self, base_url: str, *, connect_timeout: float, max_idle: int = 8) -> None:
        parts = urlsplit(base_url)
        self.scheme = parts.scheme or "http"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        self.host_header = parts.netloc
        self.connect_timeout, self.max_idle = connect_timeout, max_idle
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        *,
        timeout: float,
        connect_timeout: float | None = None,
    ) -> Exchange:
        """Send one request and read the response head; ``timeout`` limits every read after that,
        ``connect_timeout`` (default: the pool's) a new connection."""
        connect_timeout = self.connect_timeout if connect_timeout is None else connect_timeout
        while True:
            conn = self._take()
            reused = conn is not None
            if conn is None:
                conn = self._connect(connect_timeout)
            try:
                conn.sock.settimeout(timeout)
                conn.request(method, path, body=body, headers={"Host": self.host_header, **headers})
                return Exchange(self, conn, conn.getresponse())
            except _STALE:
                conn.close()
                if not reused:
                    raise
            except BaseException:
                conn.close()
                raise

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # -- internals ---------------------------------------------------------------------------
    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=timeout)
        try:
            conn.connect()
        except TimeoutError as exc:
            conn.close()
            raise ConnectFailed(f"connect timeout after {timeout:g}s", timed_out=True) from exc
        except OSError as exc:
            conn.close()
            raise ConnectFailed(str(exc) or type(exc).__name__, timed_out=False) from exc
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _take(self) -> http.client.HTTPConnection | None:
        """An idle connection the server has not closed (an idle socket that reads EOF has been)."""
        while True:
            with self._lock:
                if not self._idle:
                    return None
                conn = self._idle.pop()
            sock = conn.sock
            if sock is not None and not select.select([sock], [], [], 0)[0]:
                return conn
            conn.close()

    def _release(self, conn: http.client.HTTPConnection, reusable: bool) -> None:
        if reusable and conn.sock is not None:
            with self._lock:
                if len(self._idle) < self.max_idle:
                    self._idle.append(conn)
                    return
        conn.close()
