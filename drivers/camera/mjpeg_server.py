"""Serve pictures as an MJPEG stream (``multipart/x-mixed-replace``) over HTTP on localhost.

This is the wire-level stand-in for an IP camera: the real ``open_camera("http://...")``
path (OpenCV + FFmpeg) reads it exactly as it would read a kiosk camera. One producer thread
paces the pictures at ``fps`` and encodes each once; every connected client receives the
newest picture (a slow client skips pictures, as with a real camera). ``close()`` drops the
listening socket and every open connection at once, which is how tests make a stream die.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gate.errors import DeviceError
from gate.types import ImageBGR

log = logging.getLogger(__name__)

BOUNDARY = "egateframe"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
SHUTDOWN_POLL_S = 0.05


class MjpegServer:
    """``with MjpegServer(frames, port=0) as server: open_camera(server.url)``."""

    def __init__(
        self,
        frames: Iterable[ImageBGR] | Callable[[], Iterator[ImageBGR]],
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        fps: float = 15.0,
        jpeg_quality: int = 90,
        loop: bool = False,
        path: str = "/stream.mjpg",
    ) -> None:
        if host not in LOCAL_HOSTS:
            raise DeviceError(f"MJPEG server: host {host!r} is not a loopback address")
        if fps <= 0:
            raise DeviceError(f"MJPEG server: fps must be > 0, got {fps}")
        self._source = frames
        self._fps = fps
        self._quality = int(jpeg_quality)
        self._loop = loop
        self.path = path
        self._cond = threading.Condition()
        self._latest: tuple[int, bytes] | None = None
        self._ended = False
        self._closed = False
        self._clients: set[socket.socket] = set()
        self.frames_produced = 0
        try:
            self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        except OSError as exc:
            raise DeviceError(f"MJPEG server: cannot listen on {host}:{port}: {exc}") from exc
        self._httpd.daemon_threads = True
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self._threads = [
            threading.Thread(target=self._serve, name="mjpeg http", daemon=True),
            threading.Thread(target=self._produce, name="mjpeg producer", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    def close(self) -> None:
        """Stop serving: the listening socket and every client connection go away now."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
            clients = list(self._clients)
        for conn in clients:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._httpd.shutdown()
        self._httpd.server_close()

    def _serve(self) -> None:
        # The loop looks for ``close`` between two polls: 0.05 s, not the default 0.5 s
        # that every close waited out (20 idle wake-ups a second cost nothing measurable).
        self._httpd.serve_forever(poll_interval=SHUTDOWN_POLL_S)

    def __enter__(self) -> MjpegServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_frames(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until ``count`` pictures have been produced (True) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.frames_produced < count and not self._ended:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return self.frames_produced >= count

    # -- producer ------------------------------------------------------------------------

    def _iterate(self) -> Iterator[ImageBGR]:
        if callable(self._source):
            factory = self._source
            if self._loop:
                return itertools.chain.from_iterable(factory() for _ in itertools.count())
            return factory()
        if self._loop:
            return itertools.cycle(list(self._source))
        return iter(self._source)

    def _produce(self) -> None:
        import cv2

        period = 1.0 / self._fps
        next_due = time.monotonic()
        try:
            for image in self._iterate():
                ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self._quality])
                if not ok:
                    log.warning("MJPEG server: a picture could not be encoded; skipped")
                    continue
                delay = next_due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_due = max(next_due + period, time.monotonic() - period)
                with self._cond:
                    if self._closed:
                        return
                    self.frames_produced += 1
                    self._latest = (self.frames_produced, data.tobytes())
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def _next_picture(self, after: int) -> tuple[int, bytes] | None:
        """The newest picture newer than ``after``; None when the stream is over."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                if self._latest is not None and self._latest[0] > after:
                    return self._latest
                if self._ended:
                    return None
                self._cond.wait(0.5)

    # -- HTTP ----------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                log.debug("MJPEG server: " + format, *args)

            def do_GET(self) -> None:
                if self.path.split("?")[0] != server.path:
                    self.send_error(404, f"the stream is at {server.path}")
                    return
                with server._cond:
                    over = server._ended or server._closed
                if over:
                    self.send_error(503, "the stream is over")
                    return
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-cache, private")
                self.send_header("Connection", "close")
                self.end_headers()
                with server._cond:
                    server._clients.add(self.connection)
                try:
                    seen = 0
                    while True:
                        picture = server._next_picture(seen)
                        if picture is None:
                            return
                        seen, data = picture
                        head = (
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(data)}\r\n\r\n"
                        ).encode("ascii")
                        self.wfile.write(head + data + b"\r\n")
                        self.wfile.flush()
                except OSError:
                    return  # the client went away
                finally:
                    with server._cond:
                        server._clients.discard(self.connection)

        return Handler
