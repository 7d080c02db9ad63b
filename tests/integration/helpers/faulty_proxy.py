"""A TCP proxy that breaks connections the way networks do: between a client
and a storage server it forwards bytes in both directions and, at random
chunks, resets the connection (RST, mid-request or mid-response) or stalls it
(stops forwarding and keeps it open, so only the client's timeout ends it).

Used by test_storage.py to show that wire-level faults during a backup end in
retries, never in a lost or corrupt object; with no faults, test_catalog_index.py
counts the HTTP requests a command makes (`requests`: method and target of each)."""

from __future__ import annotations

import random
import re
import socket
import struct
import threading


class FaultyProxy:
    def __init__(self, target_host: str, target_port: int, reset_rate: float, stall_rate: float, seed: int = 1):
        self.target = (target_host, target_port)
        self.reset_rate = reset_rate
        self.stall_rate = stall_rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.resets = 0
        self.stalls = 0
        self.connections = 0
        self.requests: list[tuple[str, str]] = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.stopping = True
        self.listener.close()

    def _draw(self) -> str:
        with self.lock:
            x = self.rng.random()
            if x < self.reset_rate:
                self.resets += 1
                return "reset"
            if x < self.reset_rate + self.stall_rate:
                self.stalls += 1
                return "stall"
            return "pass"

    def _accept(self) -> None:
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            pair = {"client": client, "server": server, "dead": False}
            threading.Thread(target=self._pump, args=(client, server, pair), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, pair), daemon=True).start()

    REQUEST_LINE = re.compile(rb"(?:^|\r\n)(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP/1\.1\r\n")

    def _count(self, data: bytes) -> None:
        # Request lines start a chunk a client sends (bodies here are JSON and
        # segments, which hold no such line).
        with self.lock:
            self.requests += [(m.group(1).decode(), m.group(2).decode()) for m in self.REQUEST_LINE.finditer(data)]

    def take_requests(self) -> list[tuple[str, str]]:
        with self.lock:
            out, self.requests = self.requests, []
        return out

    @staticmethod
    def _reset(sock: socket.socket) -> None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        except OSError:
            pass

    def _pump(self, src: socket.socket, dst: socket.socket, pair: dict) -> None:
        try:
            while not pair["dead"]:
                data = src.recv(65536)
                if not data:
                    break
                if src is pair["client"]:
                    self._count(data)
                fault = self._draw()
                if fault == "reset":
                    # Part of the chunk goes through, then the connection dies.
                    dst.sendall(data[: len(data) // 2])
                    break
                if fault == "stall":
                    threading.Event().wait(3600)  # the client's stall timeout ends this
                    return
                dst.sendall(data)
        except OSError:
            pass
        pair["dead"] = True
        self._reset(pair["client"])
        self._reset(pair["server"])
