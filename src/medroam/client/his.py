"""``HisClient``: what a hospital HIS does to call the national interface.

It builds the envelope (national-interface §2.2) and the ``msgid`` (institution code +
``yyyyMMddHHmmss`` + a 4-digit sequence, §2.3), signs the request with the gateway
scheme of the institution (§2.8: ``tif``, ``csb``, ``apikey`` or ``none``), posts the
compact UTF-8 JSON, and parses the answer with exact decimals.

The signatures are computed here on their own, from the interface's description, and not
borrowed from the server, so that a test over HTTP checks one against the other.

    client = HisClient("http://127.0.0.1:8080", "H44030500001", "某医院", "440305",
                       scheme="tif", key_id="paas-1", secret="token")
    answer = client.call("1101", {"data": {...}})
    if answer["infcode"] == 0: ...
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx

from medroam.gateway import jsonfmt

STANDARD_PATH = "/fsi/api/rsfComIfsService/callService"
CHINA_TZ = timezone(timedelta(hours=8), "CST")
SCHEMES = ("tif", "csb", "apikey", "none")


class CallError(Exception):
    """The call did not produce a usable answer (transport, HTTP status, refusal)."""

    def __init__(self, message: str, response: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.response = dict(response) if response is not None else None


class HisClient:
    # one sequence per process, from a random start (msgid uniqueness across instances)
    _seq: int = secrets.randbelow(9999)
    _seq_lock = threading.Lock()

    def __init__(
        self,
        base_url: str,
        fixmedins_code: str,
        fixmedins_name: str,
        region: str,
        scheme: str = "tif",
        key_id: str = "",
        secret: str = "",
        *,
        path: str = STANDARD_PATH,
        content_type: str = "application/json;charset=utf-8",
        opter: str = "0001",
        opter_name: str = "收费员",
        infver: str = "V1.0",
        recer_sys_code: str = "YBXT",
        csb_version: str = "1.0.0",
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
        self.base_url = base_url.rstrip("/")
        self.fixmedins_code = fixmedins_code
        self.fixmedins_name = fixmedins_name
        self.region = region
        self.scheme = scheme
        self.key_id = key_id
        self.secret = secret
        self.path = path
        self.content_type = content_type
        self.opter = opter
        self.opter_name = opter_name
        self.infver = infver
        self.recer_sys_code = recer_sys_code
        self.csb_version = csb_version
        self.clock = clock
        self.sign_no = ""
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HisClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- building ------------------------------------------------------------------

    def _local_now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), CHINA_TZ)

    def new_msgid(self) -> str:
        """Institution code + yyyyMMddHHmmss + 4-digit sequence (0001–9999, cycling).

        The sequence is shared by every client in the process and starts at a random
        point, so two clients of one institution never repeat a msgid within a second
        (up to 9,999 messages), and two processes rarely do.
        """
        with HisClient._seq_lock:
            HisClient._seq = HisClient._seq % 9999 + 1
            seq = HisClient._seq
        return f"{self.fixmedins_code}{self._local_now():%Y%m%d%H%M%S}{seq:04d}"

    def envelope(
        self,
        infno: str,
        input: Mapping[str, Any],
        *,
        insuplc_admdvs: str = "",
        msgid: str | None = None,
    ) -> dict[str, Any]:
        return {
            "infno": infno,
            "msgid": msgid or self.new_msgid(),
            "mdtrtarea_admvs": self.region,
            "insuplc_admdvs": insuplc_admdvs,
            "recer_sys_code": self.recer_sys_code,
            "dev_no": "",
            "dev_safe_info": "",
            "cainfo": "",
            "signtype": "",
            "infver": self.infver,
            "opter_type": "1",
            "opter": self.opter,
            "opter_name": self.opter_name,
            "inf_time": f"{self._local_now():%Y-%m-%d %H:%M:%S}",
            "fixmedins_code": self.fixmedins_code,
            "fixmedins_name": self.fixmedins_name,
            "sign_no": self.sign_no,
            "input": dict(input),
        }

    def auth_headers(self, infno: str) -> dict[str, str]:
        """The gateway headers of one request under this client's scheme."""
        if self.scheme == "tif":
            ts = str(int(self.clock()))
            nonce = uuid.uuid4().hex
            signature = hashlib.sha256(f"{ts}{self.secret}{nonce}{ts}".encode()).hexdigest()
            return {
                "x-tif-paasid": self.key_id,
                "x-tif-timestamp": ts,
                "x-tif-nonce": nonce,
                "x-tif-signature": signature,
            }
        if self.scheme == "csb":
            params = {
                "_api_access_key": self.key_id,
                "_api_name": infno,
                "_api_timestamp": str(int(self.clock() * 1000)),
                "_api_version": self.csb_version,
            }
            to_sign = "&".join(f"{k}={params[k]}" for k in sorted(params))
            mac = hmac.new(self.secret.encode(), to_sign.encode(), hashlib.sha1).digest()
            return {**params, "_api_signature": base64.b64encode(mac).decode("ascii")}
        if self.scheme == "apikey":
            return {"apikey": self.key_id}
        return {}

    # --- sending -------------------------------------------------------------------

    def post(
        self,
        body: bytes | str | Mapping[str, Any],
        *,
        infno: str = "",
        headers: Mapping[str, str] | None = None,
        path: str | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        """Send a body as it is (a mapping is written as compact exact JSON)."""
        if isinstance(body, Mapping):
            data = jsonfmt.dumps(body).encode("utf-8")
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = body
        all_headers = {"Content-Type": content_type or self.content_type}
        all_headers.update(self.auth_headers(infno) if headers is None else headers)
        return self._http.post(
            self.base_url + (path or self.path), content=data, headers=all_headers
        )

    def call(
        self,
        infno: str,
        input: Mapping[str, Any],
        *,
        insuplc_admdvs: str = "",
        msgid: str | None = None,
    ) -> dict[str, Any]:
        """Send one transaction; the response envelope (amounts as ``Decimal``).

        A refusal (``infcode`` -1, HTTP 200 or 401) is returned like a success; a
        transport failure, another HTTP status or a body that is not JSON raises
        :class:`CallError`.
        """
        body = self.envelope(infno, input, insuplc_admdvs=insuplc_admdvs, msgid=msgid)
        return parse_answer(self._send(body, infno))

    def call_ok(
        self,
        infno: str,
        input: Mapping[str, Any],
        *,
        insuplc_admdvs: str = "",
        msgid: str | None = None,
    ) -> dict[str, Any]:
        """Like :meth:`call`, but return ``output`` and raise :class:`CallError` with
        ``err_msg`` when the transaction is refused."""
        answer = self.call(infno, input, insuplc_admdvs=insuplc_admdvs, msgid=msgid)
        if answer.get("infcode") != 0:
            raise CallError(f"{infno} refused: {answer.get('err_msg')}", answer)
        output = answer.get("output")
        return output if isinstance(output, dict) else {}

    def _send(self, body: Mapping[str, Any], infno: str) -> httpx.Response:
        try:
            return self.post(body, infno=infno)
        except httpx.HTTPError as exc:
            raise CallError(f"{infno}: transport failure: {exc}") from exc

    # --- conveniences --------------------------------------------------------------

    def sign_in(
        self, opter_no: str = "0001", mac: str = "00-00-00-00-00-00", ip: str = "127.0.0.1"
    ) -> str:
        """9001; later envelopes carry the ``sign_no``."""
        output = self.call_ok(
            "9001",
            {"signIn": {"opter_no": opter_no, "mac": mac, "ip": ip}},
            insuplc_admdvs=self.region,
        )
        self.sign_no = str(output["signinoutb"]["sign_no"])
        return self.sign_no

    def upload(self, filename: str, content: bytes, *, msgid: str | None = None) -> dict[str, Any]:
        """9101 with the content as Base64 inside the JSON envelope; returns ``output``."""
        return self.call_ok(
            "9101",
            {
                "fsUploadIn": {
                    "in": base64.b64encode(content).decode("ascii"),
                    "filename": filename,
                    "fixmedins_code": self.fixmedins_code,
                }
            },
            msgid=msgid,
        )

    def upload_multipart(self, filename: str, content: bytes) -> dict[str, Any]:
        """9101 as ``multipart/form-data``: text part ``jsonStr``, file part ``in``."""
        body = self.envelope(
            "9101", {"fsUploadIn": {"filename": filename, "fixmedins_code": self.fixmedins_code}}
        )
        headers = self.auth_headers("9101")
        try:
            response = self._http.post(
                self.base_url + self.path,
                data={"jsonStr": jsonfmt.dumps(body)},
                files={"in": (filename, content, "application/zip")},
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise CallError(f"9101: transport failure: {exc}") from exc
        answer = parse_answer(response)
        if answer.get("infcode") != 0:
            raise CallError(f"9101 refused: {answer.get('err_msg')}", answer)
        output = answer.get("output")
        return output if isinstance(output, dict) else {}

    def download(
        self, file_qury_no: str, filename: str, *, fixmedins_code: str | None = None
    ) -> bytes:
        """9102: the file's bytes; a JSON answer (a refusal) raises :class:`CallError`."""
        body = self.envelope(
            "9102",
            {
                "fsDownloadIn": {
                    "file_qury_no": file_qury_no,
                    "filename": filename,
                    "fixmedins_code": fixmedins_code or self.fixmedins_code,
                }
            },
        )
        response = self._send(body, "9102")
        if response.status_code == 200 and response.headers.get("content-type", "").startswith(
            "application/octet-stream"
        ):
            return response.content
        answer = parse_answer(response)
        raise CallError(f"9102 refused: {answer.get('err_msg')}", answer)


def parse_answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON envelope of an answer (HTTP 200 or 401), amounts as ``Decimal``."""
    if response.status_code not in (200, 401):
        raise CallError(f"HTTP {response.status_code}: {response.text[:200]}")
    try:
        doc = json.loads(response.content.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CallError(f"the answer is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise CallError(f"the answer is not a JSON object: {response.text[:200]}")
    return doc
