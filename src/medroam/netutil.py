"""Listening ports (is one free, a free one for tests and the simulator) and the parts
of a ``multipart/form-data`` body."""

from __future__ import annotations

import errno
import socket
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP


def multipart_parts(body: bytes, content_type: str) -> list[tuple[str, str, bytes]]:
    """(field name, file name or "", bytes) of each part of a ``multipart/form-data``
    body, read with the standard library's MIME parser; [] when it has no parts. A file
    name that is not UTF-8 comes back with U+FFFD in it."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return []
    out = []
    for part in message.iter_parts():
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            out.append((name, part.get_filename() or "", payload))
    return out


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on, or None when it is free.

    The probe binds with ``SO_REUSEADDR``, as uvicorn's listening socket does: sockets
    left in TIME_WAIT by a server that just stopped (or was killed) do not make the port
    busy, only a live listener does, so a restart on the same port works at once.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"cannot resolve host {host!r}: {exc.strerror}"
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} on {host} is already in use; stop the other server or pass --port"
                )
            return f"cannot listen on {host}:{port}: {exc.strerror}"
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port
