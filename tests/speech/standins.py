"""Local stand-ins of the speech servers escucha talks to: a Vosk server (WebSocket) and a
whisper.cpp server (HTTP ``/inference``). Each answers the utterances it is sent, in order,
with the texts it was given, and checks each utterance's length against the expected one,
so a wrong cut, rate or sample format shows as a wrong transcript."""

from __future__ import annotations

import json
import threading
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from typing import Any

from websockets.sync.server import ServerConnection, serve

RATE = 16_000


class Script:
    """Expected utterances: ``(seconds, text)`` in the order they will be sent."""

    def __init__(self, items: list[tuple[float, str]], tolerance_s: float = 0.6) -> None:
        self.items = list(items)
        self.tolerance_s = tolerance_s
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def answer(self, seconds: float, **meta: Any) -> str:
        with self.lock:
            self.seen.append({"seconds": seconds, **meta})
            if not self.items:
                return ""
            expected, text = self.items[0]
            # the utterance is cut with 0.1 s of context either side
            if abs(seconds - expected) > self.tolerance_s + 0.2:
                return ""
            self.items.pop(0)
            return text


@contextmanager
def vosk_server(script: Script) -> Iterator[str]:
    def handler(ws: ServerConnection) -> None:
        config = json.loads(ws.recv())
        rate = int(config["config"]["sample_rate"])
        audio = bytearray()
        for message in ws:
            if isinstance(message, str):
                if json.loads(message).get("eof") == 1:
                    text = script.answer(len(audio) / 2 / rate, rate=rate)
                    ws.send(json.dumps({"result": [], "text": text}))
                    return
                continue
            audio.extend(message)
            ws.send(json.dumps({"partial": ""}))

    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.socket.getsockname()[1]
        try:
            yield f"ws://127.0.0.1:{port}"
        finally:
            server.shutdown()
            thread.join(5)


@contextmanager
def whisper_server(script: Script) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            if self.path != "/inference":
                self.send_response(404)
                self.end_headers()
                return
            length = int(self.headers["Content-Length"])
            body = self.rfile.read(length)
            head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
            message = BytesParser(policy=HTTP).parsebytes(head + body)
            fields: dict[str, bytes] = {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                fields[str(name)] = part.get_payload(decode=True)
            with wave.open(BytesIO(fields["file"]), "rb") as wav:
                seconds = wav.getnframes() / wav.getframerate()
                rate = wav.getframerate()
            text = script.answer(
                seconds,
                rate=rate,
                language=fields["language"].decode(),
                response_format=fields["response_format"].decode(),
            )
            payload = json.dumps({"text": f" {text}"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
