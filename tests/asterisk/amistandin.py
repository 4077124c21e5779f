"""An AMI stand-in: a TCP server on loopback speaking the Asterisk Manager Interface's framing
(a banner line, ``Key: value`` lines ended by a blank line, CRLF), with the login and the queue
events of ``app_queue`` as Asterisk documents them (QueueCallerJoin, AgentConnect,
AgentComplete, QueueCallerAbandon, QueueCallerLeave)."""

from __future__ import annotations

import socket
import threading


class AmiStandIn:
    def __init__(self, user: str = "escucha", secret: str = "ami-secret") -> None:  # noqa: S107 - test credentials
        self.user = user
        self.secret = secret
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.clients: list[socket.socket] = []
        self.logins = 0
        self.refused = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self.lock = threading.Lock()

    def start(self) -> AmiStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.sock.close()
        with self.lock:
            for client in self.clients:
                client.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.sendall(b"Asterisk Call Manager/9.0.0\r\n")
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            chunk = conn.recv(4096)
            if not chunk:
                return
            buffer += chunk
        fields = dict(line.split(": ", 1) for line in buffer.decode().split("\r\n") if ": " in line)
        if fields.get("Username") != self.user or fields.get("Secret") != self.secret:
            self.refused += 1
            conn.sendall(b"Response: Error\r\nMessage: Authentication failed\r\n\r\n")
            conn.close()
            return
        conn.sendall(b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n")
        conn.sendall(b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n")
        with self.lock:
            self.clients.append(conn)
            self.logins += 1

    def event(self, name: str, **fields: str) -> None:
        """Send an event to every logged-in client."""
        lines = [
            f"Event: {name}",
            "Privilege: agent,all",
            *(f"{k}: {v}" for k, v in fields.items()),
        ]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode()
        with self.lock:
            for client in self.clients:
                client.sendall(data)
