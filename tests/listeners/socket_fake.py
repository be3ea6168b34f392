"""A minimal Slack Socket Mode endpoint: plain ws:// on 127.0.0.1, JSON envelopes.

Enough WebSocket (RFC 6455) for slack_sdk's built-in client: the handshake, text frames
both ways (client frames masked), ping/pong and close. `send()` pushes an envelope to the
connected app; `received` collects what the app sent back (acks carry the envelope_id).
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading
import time
from typing import Any

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FakeSocketMode:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._closed = False

    def start(self) -> FakeSocketMode:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            for c in self._conns:
                c.close()

    def __enter__(self) -> FakeSocketMode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._listener.getsockname()[1]}/link/?ticket=fake"

    def wait_connected(self, timeout: float = 30) -> None:
        self._wait(lambda: self._conns, timeout, "no Socket Mode connection")

    def wait_for_ack(self, envelope_id: str, timeout: float = 5) -> dict[str, Any]:
        return self._wait(
            lambda: next((m for m in self.received if m.get("envelope_id") == envelope_id), None),
            timeout, f"no ack for {envelope_id}",
        )

    def send(self, envelope: dict[str, Any]) -> None:
        data = json.dumps(envelope).encode()
        with self._lock:
            conn = self._conns[-1]
            conn.sendall(_frame(0x1, data))

    # --- internals ----------------------------------------------------------------------
    def _wait(self, predicate: Any, timeout: float, what: str) -> Any:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                value = predicate()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(f"fake Socket Mode: {what} within {timeout}s")

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(1024)
            if not chunk:
                return
            request += chunk
        key = next(
            line.split(":", 1)[1].strip()
            for line in request.decode().split("\r\n")
            if line.lower().startswith("sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept.encode() + b"\r\n\r\n"
        )
        hello = {"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"},
                 "connection_info": {"app_id": "A0PAPERBOT"}}
        with self._lock:
            conn.sendall(_frame(0x1, json.dumps(hello).encode()))
            self._conns.append(conn)
        try:
            while True:
                opcode, payload = _read_frame(conn)
                if opcode == 0x8:  # close
                    return
                if opcode == 0x9:  # ping
                    with self._lock:
                        conn.sendall(_frame(0xA, payload))
                elif opcode == 0x1:
                    with self._lock:
                        self.received.append(json.loads(payload))
        except (OSError, ConnectionError, ValueError):
            return
        finally:
            with self._lock:
                if conn in self._conns:
                    self._conns.remove(conn)
            conn.close()


def _frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def _read_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _read_frame(conn: socket.socket) -> tuple[int, bytes]:
    b0, b1 = _read_exact(conn, 2)
    opcode, masked, n = b0 & 0x0F, b1 & 0x80, b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", _read_exact(conn, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", _read_exact(conn, 8))[0]
    mask = _read_exact(conn, 4) if masked else b"\0\0\0\0"
    data = _read_exact(conn, n)
    return opcode, bytes(c ^ mask[i % 4] for i, c in enumerate(data))
