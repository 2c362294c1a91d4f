"""A raw HTTP bridge on 127.0.0.1 for the fetch tests: it writes exactly the bytes a test
gives, where a real server would correct them."""
from __future__ import annotations

import json
import socket
import threading
import time
from typing import List

PAYLOAD = json.dumps({"conferences": 3, "participants": 7}).encode()
ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(PAYLOAD)
          + PAYLOAD)


def read_head(conn: socket.socket) -> bytes:
    """One request's head (up to the blank line); b"" when the client closed first."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        if not chunk:
            return b""
        head += chunk
    return head


class RawBridge:
    """A bridge on 127.0.0.1 that answers the first ``answered`` requests of each
    connection, then, at the next one, reads it and closes the connection unanswered;
    ``close_when_idle`` closes each connection right after its first answer instead;
    ``trailing`` is sent after each answer, bytes nobody asked for. ``answer`` is the
    bytes of each answer, exactly as given."""

    def __init__(self, answered: int = 1, close_when_idle: bool = False, trailing: bytes = b"",
                 answer: bytes = ANSWER) -> None:
        self.answer = answer
        self.answered = answered
        self.close_when_idle = close_when_idle
        self.trailing = trailing
        self.connections = 0
        self.requests = 0
        self.heads: List[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/colibri/stats"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._answer(conn)
        except OSError:
            pass  # the client reset the connection: its choice
        finally:
            conn.close()

    def _answer(self, conn: socket.socket) -> None:
        served = 0
        while True:
            head = read_head(conn)
            if not head:
                return
            self.requests += 1
            self.heads.append(head)
            if served == self.answered:
                return  # read, never answered: the connection just closes
            conn.sendall(self.answer)
            if self.trailing:
                time.sleep(0.05)  # after the answer was read: a segment of its own
                conn.sendall(self.trailing)
            served += 1
            if self.close_when_idle:
                return

    def close(self) -> None:
        self.listener.close()
