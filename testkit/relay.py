"""A TCP relay to a server, on an address and port of this host.

- Reached from a network namespace (testkit/netns.py) through the veth link a test can
  cut, it lets a process there use a server that listens on 127.0.0.1 only (the plain
  MariaDB of the tests): `Relay(server, ns.host_address).start()`.
- On a port chosen first and listened on only once started, it plays a server that is
  down, then comes up: `Relay(server, port=free_port())`, later `.start()`.

Each accepted connection gets its own connection to the server and two threads copying
bytes; when a link is cut, the client's side stops moving and the server's stays open,
as on a real network cut. close() ends them all.
"""
from __future__ import annotations

import socket
import threading
from typing import Any, List, Optional, Tuple


class Relay:
    def __init__(self, server: Tuple[str, int], listen_host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.server = server
        self.listen_host = listen_host
        self.port = port  # 0: any free one, known once started
        self._listener: Optional[socket.socket] = None
        self._sockets: List[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> "Relay":
        self._listener = socket.create_server((self.listen_host, self.port), backlog=64)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self._listener,), name="relay",
                         daemon=True).start()
        return self

    def __enter__(self) -> "Relay":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
                upstream = socket.create_connection(self.server, timeout=5)
            except OSError:
                return  # closed
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_copy, args=(source, target), daemon=True).start()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for each in sockets:
            try:
                each.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            each.close()


def _copy(source: socket.socket, target: socket.socket) -> None:
    """Bytes from `source` to `target` until `source` ends; then `target` hears the end."""
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    try:
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass
