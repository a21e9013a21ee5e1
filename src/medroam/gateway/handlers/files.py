"""9101 文件上传 (file upload) and 9102 文件下载 (file download), national-interface §4.10.

9101 takes ``input.fsUploadIn.in`` as a Base64 string or as an array of byte values
(0–255, or Java's signed -128–127), or as the file part of a multipart request (which the
dispatcher turns into Base64). 9102 answers the raw file with
``application/octet-stream``; the JSON envelope is used only for refusals.

Files are kept in ``gateway_files`` until their ``dld_endtime``. A file belongs to the
institution that uploaded or produced it; catalogue files (1301 …) belong to ``"plc"``,
the value clients send in 9102 for them, and any institution may download those.

Helpers here also serve the transactions that produce or read files (catalogue downloads,
3202): :func:`zip_table` writes a ZIP holding one UTF-8 TAB-separated TXT file,
:func:`read_zip_table` reads one back.
"""

from __future__ import annotations

import base64
import binascii
import io
import secrets
import zipfile
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from medroam.gateway.errors import BusinessError, ForbiddenError, InputError
from medroam.gateway.reader import Node
from medroam.gateway.registry import RequestContext, handler
from medroam.gateway.settings import CHINA_TZ
from medroam.store.tables import FileRow

PUBLIC_OWNER = "plc"  # catalogue files: fixmedins_code "plc" in 9102
DEFAULT_TTL = timedelta(days=1)
MAX_FILE_BYTES = 15 * 1024 * 1024
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
_DT = "%Y-%m-%d %H:%M:%S"
NULL = "null"  # empty values in TXT files (§2.6)


def local(moment: datetime) -> datetime:
    return moment.astimezone(CHINA_TZ)


def new_file_qury_no(ctx: RequestContext) -> str:
    """region(6) + yyyyMMddHHmmss + 10 random digits: 30 characters."""
    return f"{ctx.institution.region}{local(ctx.now):%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"


def store_file(ctx: RequestContext, filename: str, content: bytes, owner: str) -> FileRow:
    ttl = ctx.settings.get("file_ttl", DEFAULT_TTL)
    assert isinstance(ttl, timedelta)
    row = FileRow(
        file_qury_no=new_file_qury_no(ctx),
        fixmedins_code=owner,
        filename=filename,
        content=content,
        created_at=ctx.now,
        expires_at=ctx.now + ttl,
    )
    ctx.session.add(row)
    ctx.session.flush()
    return row


def file_info(row: FileRow) -> dict[str, Any]:
    return {
        "file_qury_no": row.file_qury_no,
        "filename": row.filename,
        "dld_endtime": local(row.expires_at).strftime(_DT),
    }


def _cell(value: Any) -> str:
    if value is None or value == "":
        return NULL
    text = str(value)
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def zip_table(
    txt_name: str, rows: Iterable[Sequence[Any]], header: Sequence[str] | None = None
) -> bytes:
    """A ZIP holding ``txt_name``: one row per line, TAB-separated, UTF-8, empty → null."""
    lines: list[str] = []
    if header is not None:
        lines.append("\t".join(header))
    lines.extend("\t".join(_cell(v) for v in row) for row in rows)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(txt_name, date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8"))
    return buffer.getvalue()


def read_zip_table(content: bytes, what: str) -> list[list[str]]:
    """The rows of the TXT file(s) inside a ZIP: TAB-separated cells, ``null`` → "".

    ``what`` names the file in error messages. Blank lines are skipped.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise InputError(f"{what}: is not a ZIP file") from None
    with zf:
        names = [i for i in zf.infolist() if not i.is_dir()]
        if not names:
            raise InputError(f"{what}: the ZIP holds no file")
        if sum(i.file_size for i in names) > MAX_UNZIPPED_BYTES:
            raise InputError(f"{what}: the ZIP unpacks to more than {MAX_UNZIPPED_BYTES} bytes")
        rows: list[list[str]] = []
        for info in names:
            try:
                text = zf.read(info).decode("utf-8-sig")
            except UnicodeDecodeError:
                raise InputError(f"{what}: {info.filename} is not UTF-8 text") from None
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
                raise InputError(f"{what}: {info.filename} cannot be unpacked ({exc})") from None
            for line in text.splitlines():
                if not line.strip():
                    continue
                rows.append(["" if c.strip() == NULL else c.strip() for c in line.split("\t")])
    return rows


def load_file(ctx: RequestContext, file_qury_no: str, where: str) -> FileRow:
    """A stored file the caller may read, not expired; refusals name ``where``."""
    row = ctx.session.get(FileRow, file_qury_no)
    if row is None or row.fixmedins_code not in (PUBLIC_OWNER, ctx.institution.code):
        raise ForbiddenError(f"{where}: no file {file_qury_no!r} for this institution")
    if row.expires_at < ctx.now:
        raise BusinessError(
            f"{where}: file {file_qury_no} expired at {local(row.expires_at):{_DT}}; "
            "produce or upload it again"
        )
    return row


def _decode_bytes(node: Node, key: str) -> bytes:
    value = node.raw.get(key)
    if value is None:
        for k, v in node.raw.items():
            if str(k).lower() == key:
                value = v
    where = f"{node.path}.{key}"
    if value in (None, "", "null", []):
        raise InputError(f"{where}: is required (必填): the file content")
    if isinstance(value, str):
        try:
            data = base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            raise InputError(f"{where}: is neither Base64 nor an array of bytes") from None
    elif isinstance(value, list):
        out = bytearray()
        for i, b in enumerate(value):
            if isinstance(b, bool) or not isinstance(b, int) or not -128 <= b <= 255:
                raise InputError(f"{where}[{i}]: must be a byte value (0 to 255), got {b!r}")
            out.append(b & 0xFF)
        data = bytes(out)
    else:
        raise InputError(f"{where}: must be a Base64 string or an array of bytes")
    if not data:
        raise InputError(f"{where}: the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{where}: the file is larger than {MAX_FILE_BYTES} bytes")
    return data


def _owner_code(ctx: RequestContext, node: Node, *, allow_public: bool) -> str:
    code = node.text("fixmedins_code", required=False, max_len=30) or ctx.institution.code
    if code == ctx.institution.code or (allow_public and code == PUBLIC_OWNER):
        return code
    raise ForbiddenError(
        f"{node.path}.fixmedins_code: {code!r} is not this institution ({ctx.institution.code})"
    )


@handler("9101", "文件上传", state_changing=True)
def upload(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    node = inp.node("fsUploadIn")
    filename = node.text("filename", max_len=200)
    _owner_code(ctx, node, allow_public=False)
    content = _decode_bytes(node, "in")
    row = store_file(ctx, filename, content, ctx.institution.code)
    return {**file_info(row), "fixmedins_code": ctx.institution.code}


@handler("9102", "文件下载", state_changing=False)
def download(ctx: RequestContext, inp: Node) -> None:
    node = inp.node("fsDownloadIn")
    file_qury_no = node.text("file_qury_no", max_len=40)
    filename = node.text("filename", required=False, max_len=200)
    _owner_code(ctx, node, allow_public=True)
    row = load_file(ctx, file_qury_no, f"{node.path}.file_qury_no")
    if filename and filename != row.filename:
        raise InputError(
            f"{node.path}.filename: file {file_qury_no} is named {row.filename!r}, not {filename!r}"
        )
    ctx.file_response = (row.content, row.filename)
