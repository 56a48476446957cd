"""A TCP proxy a test puts between apflow and PostgreSQL, to make the database fail without touching the shared
server: pause() stops forwarding and holds every connection (a frozen server, or a network holding packets),
cut() closes every open connection (a server restart, a dropped link), down() also refuses new ones until up().

Threads, not asyncio: each connection is two pumps. Everything it starts ends with close()."""
from __future__ import annotations

import socket
import threading


class FaultProxy:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._forwarding = threading.Event()
        self._forwarding.set()
        self._refusing = False
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self.connections = 0  # accepted so far, for tests that count reconnections
        self._start(self._accept)

    # -- what a test does --------------------------------------------------------------------------

    def pause(self) -> None:
        """Stop forwarding in both directions and hold new connections, as a frozen server would."""
        self._forwarding.clear()

    def resume(self) -> None:
        self._forwarding.set()

    def cut(self) -> None:
        """Close every open connection at once (both sides see the connection end)."""
        with self._lock:
            doomed, self._sockets = self._sockets, set()
        for sock in doomed:
            _close(sock)

    def down(self) -> None:
        """An outage: cut everything and refuse new connections until up()."""
        self._refusing = True
        self.cut()

    def up(self) -> None:
        self._refusing = False
        self.resume()

    def close(self) -> None:
        self._closed.set()
        self._forwarding.set()
        _close(self._listener)
        self.cut()
        for thread in self._threads:
            thread.join(timeout=5)

    # -- the proxy ---------------------------------------------------------------------------------

    def _start(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="fault-proxy")
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            if self._refusing:
                _close(client)
                continue
            self._start(self._connect, client)

    def _wait_forwarding(self) -> bool:
        while not self._forwarding.wait(0.2):
            if self._closed.is_set():
                return False
        return not self._closed.is_set()

    def _connect(self, client: socket.socket) -> None:
        self._track(client)
        if not self._wait_forwarding():  # paused: the connection is held, unanswered
            _close(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=10)
            upstream.settimeout(None)
        except OSError:
            _close(client)
            return
        if not self._track(upstream) or not self._still_open(client):
            _close(client)
            _close(upstream)
            return
        self._start(self._pump, client, upstream)
        self._start(self._pump, upstream, client)

    def _track(self, sock: socket.socket) -> bool:
        with self._lock:
            if self._closed.is_set():
                return False
            self._sockets.add(sock)
            return True

    def _still_open(self, sock: socket.socket) -> bool:
        with self._lock:
            return sock in self._sockets

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                if not self._wait_forwarding():
                    break
                data = source.recv(65536)
                if not data:
                    break
                if not self._wait_forwarding():  # paused mid-flight: hold what was read until resumed
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
