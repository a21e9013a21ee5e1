"""Small helpers shared by the HTTP tests."""

from __future__ import annotations

import io
import json
import zipfile
from decimal import Decimal
from typing import Any

import httpx

# Tables a refused request must leave untouched.
WRITABLE = ("message_log", "sign_ins", "gateway_files", "gateway_nonces")


def answer(response: httpx.Response) -> dict[str, Any]:
    doc = json.loads(response.content.decode("utf-8"), parse_float=Decimal)
    assert isinstance(doc, dict)
    return doc


def unzip_rows(content: bytes) -> list[list[str]]:
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        names = zf.namelist()
        assert len(names) == 1, names
        text = zf.read(names[0]).decode("utf-8")
    return [line.split("\t") for line in text.splitlines() if line]


def make_zip(name: str, lines: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(name, "\n".join(lines) + "\n")
    return buffer.getvalue()


SIGN_IN = {"signIn": {"opter_no": "0001", "mac": "00-16-3E-00-00-01", "ip": "10.0.0.8"}}
DICT_QUERY = {
    "data": {"type": "insutype", "admdvs": "440305", "date": "2024-06-01", "vali_flag": "1"}
}
