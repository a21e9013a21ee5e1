"""Documents sent with a self-service filing (证明材料): a ``multipart/form-data`` body
read with the standard library's MIME parser (no extra dependency), checked by size and
by content — a PDF, JPEG or PNG is recognised by its first bytes, not by its name."""

from __future__ import annotations

from dataclasses import dataclass

from medroam.netutil import multipart_parts

MAX_FILES = 5
MAX_BYTES = 5 * 1024 * 1024  # per file
MAX_BODY = MAX_FILES * MAX_BYTES + 64 * 1024
SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    content_type: str  # from the content, not the name
    content: bytes


def content_type_of(content: bytes) -> str | None:
    return next((kind for magic, kind in SIGNATURES if content.startswith(magic)), None)


def parse_multipart(
    body: bytes, content_type: str
) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    """(text fields, [(filename, bytes) of the parts named ``documents``])."""
    fields: dict[str, str] = {}
    files: list[tuple[str, bytes]] = []
    for name, filename, payload in multipart_parts(body, content_type):
        if name == "documents":
            if filename or payload:
                files.append((filename, payload))
        elif name not in fields:
            fields[name] = payload.decode("utf-8", "replace").strip()
    return fields, files


def check_uploads(files: list[tuple[str, bytes]]) -> tuple[list[Upload], str]:
    """The acceptable documents, or the reason (zh-CN) to refuse them all."""
    files = [(n, c) for n, c in files if c]  # an empty file input sends an empty part
    if len(files) > MAX_FILES:
        return [], f"证明材料最多 {MAX_FILES} 个文件"
    out = []
    for name, content in files:
        shown = name or "未命名文件"
        if len(content) > MAX_BYTES:
            return [], f"{shown} 超过 {MAX_BYTES // (1024 * 1024)} MB"
        kind = content_type_of(content)
        if kind is None:
            return [], f"{shown} 不是 PDF、JPG 或 PNG 文件"
        out.append(Upload(name[:200] or "document", kind, content))
    return out, ""
