"""A TCP relay on an address of this host to a server: a process in a network namespace
(testkit/netns.py) reaches, through the veth link a test can cut, a server that listens on
127.0.0.1 only (the plain MariaDB of the tests).

    with NetNs.create() as ns, Relay(ns.host_address, ("127.0.0.1", 3306)) as relay:
        ... connect to (ns.host_address, relay.port) from inside the namespace ...

Each accepted connection gets its own connection to the server and two threads copying
bytes; when the link is cut, the client's side stops moving and the server's stays open,
as on a real network cut. close() ends them all.
"""
from __future__ import annotations

import socket
import threading
from typing import Any, List, Tuple


class Relay:
    def __init__(self, listen_host: str, server: Tuple[str, int]) -> None:
        self.server = server
        self._listener = socket.create_server((listen_host, 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: List[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="relay", daemon=True).start()

    def __enter__(self) -> "Relay":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self.server, timeout=5)
            except OSError:
                return  # closed
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_copy, args=(source, target), daemon=True).start()

    def close(self) -> None:
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
    """Bytes from `source` to `target` until either side ends; then both are shut."""
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    for each in (source, target):
        try:
            each.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
