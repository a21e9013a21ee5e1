"""From request bytes to the answer: authenticate, parse, dispatch, log, answer.

:class:`Gateway` is the whole pipeline without HTTP (the FastAPI app in ``app.py`` only
reads the body and writes the answer), in this order:

1. the gateway headers are verified (``auth.verify_headers``): signature, time window,
   known key, against credentials cached in memory; a failure is HTTP 401;
2. the body is parsed (JSON, or multipart for 9101) and the envelope read; the handler is
   looked up; the institution (cached) is resolved from the credentials and must be the
   one the envelope names (401 otherwise);
3. one unit of work, one commit: the nonce is claimed, ``sign_no`` checked, the handler
   runs and, for a state-changing transaction, its answer is inserted into the message
   log under the unique key (institution, msgid). That key is the arbiter of
   idempotency: when the insert finds the msgid taken — the same request sent again, or
   two identical requests at once on two workers, the second waiting on the key until
   the first commits — everything the handler wrote is rolled back and the stored
   answer is sent instead (or, for a different request under a used msgid, a refusal).
   A repeated request therefore runs its handler once more before being answered from
   the log; repeats are rare, and every ordinary request saves the log look-up.
   A refusal rolls back everything the handler wrote and is then logged in a
   transaction of its own (with the nonce), so that a retry gets the same answer.
   On PostgreSQL a state-changing request claims its nonce in the statement that logs
   its answer (one statement, ``_LOG_WITH_NONCE``): a replayed nonce inserts no log
   row, and the request is refused and everything rolled back as when the nonce was
   claimed first; an ordinary request saves a round trip. A replay of a nonce this
   worker committed is refused at step 1, before any database work
   (``auth.SpentNonces``); only one spent on another worker, or forgotten by the memo,
   runs its handler before the database refuses it.

Refusals answer ``infcode -1`` with HTTP 200; unexpected exceptions are logged with a
reference and answered ``internal error (ref …)``, also HTTP 200 and not stored, so a
retry runs again. Nothing here answers 5xx.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from medroam.gateway import jsonfmt
from medroam.gateway.auth import (
    Credentials,
    Directory,
    SpentNonces,
    forget_old_nonces,
    record_nonce,
    replay_error,
    resolve_institution,
    verify_headers,
)
from medroam.gateway.envelope import (
    check_text,
    new_refmsgid,
    parse_envelope,
    parse_json,
    response_envelope,
)
from medroam.gateway.errors import AuthError, GatewayError, InputError
from medroam.gateway.logging import log_body, log_internal_error, log_request
from medroam.gateway.reader import Node
from medroam.gateway.registry import (
    Envelope,
    HandlerSpec,
    Institution,
    RequestContext,
    get_handler,
    load_handlers,
)
from medroam.gateway.settings import GatewaySettings
from medroam.netutil import multipart_parts
from medroam.services.uow import unit_of_work
from medroam.store import sqlstats
from medroam.store.fastsql import FastQuery
from medroam.store.tables import MessageLogRow, NonceRow, SignInRow
from medroam.store.upsert import table_of

_LOG_COLUMNS = (
    "fixmedins_code", "msgid", "infno", "request_hash", "infcode", "inf_refmsgid", "response",
    "received_at", "reversed",
)  # fmt: skip
_INSERT_LOG = FastQuery(
    insert(table_of(MessageLogRow)).values(
        {c: bindparam(c, type_=table_of(MessageLogRow).c[c].type) for c in _LOG_COLUMNS}
    )
)


def _log_with_nonce() -> Any:
    """PostgreSQL: claim the nonce and insert the answer in one statement; no row comes
    back when the nonce was taken (the log row is then not inserted either)."""
    nonces, log = table_of(NonceRow), table_of(MessageLogRow)
    claim = (
        postgresql.insert(nonces)
        .values(
            key_id=bindparam("n_key_id", type_=nonces.c.key_id.type),
            nonce=bindparam("n_nonce", type_=nonces.c.nonce.type),
            seen_at=bindparam("received_at", type_=nonces.c.seen_at.type),
        )
        .on_conflict_do_nothing(index_elements=["key_id", "nonce"])
        .returning(nonces.c.nonce_id)
        .cte("claim")
    )
    values = select(*(bindparam(c, type_=log.c[c].type) for c in _LOG_COLUMNS)).select_from(claim)
    return insert(log).from_select(list(_LOG_COLUMNS), values).returning(log.c.log_id)


_LOG_WITH_NONCE = FastQuery(_log_with_nonce())
SIGN_IN_INFNO = "9001"
SIGN_OUT_INFNO = "9002"
UPLOAD_INFNO = "9101"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to send back: a JSON envelope (as text) or, for 9102, a file."""

    status: int  # HTTP status
    body: str  # the JSON text; empty for a file
    infcode: int
    file: tuple[bytes, str] | None = None  # (content, filename) for 9102
    replayed: bool = False
    extra: Mapping[str, Any] | None = None  # keys added for 401s ({code, message})
    sql: sqlstats.Counts | None = None  # statements and commits, when counting is on


@dataclass(slots=True)
class _Request:
    """What is known of a request so far, for the log line and the refusal envelope."""

    ref: str
    received_at: datetime
    started: float
    region: str = ""
    infno: str = ""
    msgid: str = ""
    fixmedins_code: str = ""
    scheme: str = ""


def request_hash(envelope: Envelope, inp: Mapping[str, Any]) -> str:
    """What makes two requests under one msgid "the same": infno, regions, input, as
    canonical JSON (keys sorted, compact; a number and the same text as a string count
    alike, as the field readers take both). The standard library's C encoder: this runs
    on every state-changing call."""
    canonical = json.dumps(
        {
            "infno": envelope.infno,
            "insuplc_admdvs": envelope.insuplc_admdvs,
            "mdtrtarea_admvs": envelope.mdtrtarea_admvs,
            "input": inp,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,  # Decimal (the parser's numbers)
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class Gateway:
    """The request pipeline over one database."""

    def __init__(self, engine: Engine, settings: GatewaySettings | None = None) -> None:
        load_handlers()
        self.engine = engine
        self.settings = settings or GatewaySettings()
        self._counting = sqlstats.is_installed(engine)
        self._nonce_with_log = engine.dialect.name == "postgresql"
        self.directory = Directory(engine, self.settings.auth_cache_ttl_s)
        self._next_prune: datetime | None = None
        self._spent = SpentNonces(self.settings.nonce_memo_size)
        self._settings_dict = {
            f.name: getattr(self.settings, f.name) for f in fields(self.settings)
        }

    # --- entry point ---------------------------------------------------------------

    def process(
        self,
        headers: Mapping[str, str],
        body: bytes,
        *,
        content_type: str = "application/json",
        path_infno: str | None = None,
    ) -> Outcome:
        """Answer one request. ``headers`` with lower-case names. Never raises."""
        req = _Request(
            ref=secrets.token_hex(6), received_at=self.settings.clock(), started=time.perf_counter()
        )
        if self._counting:
            sqlstats.begin()
        try:
            outcome = self._process(req, headers, body, content_type, path_infno)
        except AuthError as exc:
            outcome = self._refusal(req, exc, status=401)
        except GatewayError as exc:
            outcome = self._refusal(req, exc)
        except OperationalError:
            log_internal_error(req.ref, infno=req.infno, msgid=req.msgid)
            outcome = self._refusal(
                req, GatewayError(f"database busy or unavailable, please retry (ref {req.ref})")
            )
        except Exception:
            log_internal_error(req.ref, infno=req.infno, msgid=req.msgid)
            outcome = self._refusal(req, GatewayError(f"internal error (ref {req.ref})"))
        self._log(req, outcome)
        if self._counting:
            outcome = replace(outcome, sql=sqlstats.snapshot())
        return outcome

    def refuse(self, exc: GatewayError) -> Outcome:
        """Answer a request refused before it could be read (e.g. a body too large)."""
        req = _Request(
            ref=secrets.token_hex(6), received_at=self.settings.clock(), started=time.perf_counter()
        )
        outcome = self._refusal(req, exc)
        self._log(req, outcome)
        return outcome

    def _log(self, req: _Request, outcome: Outcome) -> None:
        log_request(
            ref=req.ref,
            infno=req.infno,
            msgid=req.msgid,
            fixmedins_code=req.fixmedins_code,
            scheme=req.scheme,
            infcode=outcome.infcode,
            status=outcome.status,
            replayed=outcome.replayed,
            ms=round((time.perf_counter() - req.started) * 1000, 1),
        )

    def _process(
        self,
        req: _Request,
        headers: Mapping[str, str],
        body: bytes,
        content_type: str,
        path_infno: str | None,
    ) -> Outcome:
        settings = self.settings
        if len(body) > settings.max_body_bytes:
            raise InputError(f"request body too large ({len(body)} bytes)")
        creds = verify_headers(self.directory, headers, settings, req.received_at)
        req.scheme = creds.scheme
        if self._spent.spent(creds):  # committed here before: refused without the database
            raise replay_error(creds, settings)

        doc = self._document(body, content_type)
        if self.settings.log_bodies:
            log_body("request", req.ref, doc)
        if isinstance(doc, dict):
            code = doc.get("fixmedins_code")
            req.fixmedins_code = code if isinstance(code, str) else ""
        envelope, inp = parse_envelope(
            doc, path_infno=path_infno, max_msgid_len=settings.max_msgid_len
        )
        req.infno, req.msgid = envelope.infno, envelope.msgid
        if envelope.mdtrtarea_admvs:
            req.region = envelope.mdtrtarea_admvs
        spec = get_handler(envelope.infno)
        if spec is None:
            raise InputError(f"infno: unknown transaction {envelope.infno} (交易编号不存在)")
        institution = resolve_institution(self.directory, creds, envelope)
        req.region = settings.receiver_region or institution.region
        return self._dispatch(req, spec, creds, institution, envelope, inp)

    # --- parsing the body ------------------------------------------------------------

    def _document(self, body: bytes, content_type: str) -> Any:
        if content_type.lower().startswith("multipart/form-data"):
            return _multipart_document(body, content_type)
        return parse_json(body)

    # --- dispatch ----------------------------------------------------------------------

    def _context(
        self, session: Session, institution: Institution, envelope: Envelope, now: datetime
    ) -> RequestContext:
        return RequestContext(
            session=session,
            institution=institution,
            envelope=envelope,
            now=now,
            settings=dict(self._settings_dict),
        )

    def _claim_nonce(self, session: Session, creds: Credentials, now: datetime) -> None:
        record_nonce(session, creds, self.settings, now)
        self._prune_nonces(session, now)

    def _prune_nonces(self, session: Session, now: datetime) -> None:
        if self._next_prune is None or now >= self._next_prune:
            self._next_prune = now + timedelta(seconds=self.settings.nonce_prune_interval_s)
            forget_old_nonces(session, self.settings, now)

    def _dispatch(
        self,
        req: _Request,
        spec: HandlerSpec,
        creds: Credentials,
        institution: Institution,
        envelope: Envelope,
        inp: dict[str, Any],
    ) -> Outcome:
        ref_id = new_refmsgid(req.region, req.received_at)
        digest = request_hash(envelope, inp) if spec.state_changing else ""
        sign_refusal: InputError | None = None
        outcome: Outcome | None = None
        try:
            with unit_of_work(self.engine) as session:
                # the nonce goes with the answer's log row when there will be one
                with_log = spec.state_changing and self._nonce_with_log and bool(creds.nonce)
                if with_log:
                    self._prune_nonces(session, req.received_at)
                else:
                    self._claim_nonce(session, creds, req.received_at)
                # Checked before the handler: a refusal for a missing sign-in is not
                # stored, so the same msgid may be sent again once signed in.
                try:
                    warn = self._check_sign_no(session, institution, envelope)
                except InputError as exc:
                    sign_refusal = exc  # the nonce stays claimed; nothing else is written
                    if with_log:
                        record_nonce(session, creds, self.settings, req.received_at)
                else:
                    outcome = self._run(
                        session, req, ref_id, spec, institution, envelope, inp, warn
                    )
                    if outcome.file is None and spec.state_changing:
                        self._log_answer(session, req, ref_id, institution, envelope, digest,
                                         outcome, creds if with_log else None)  # fmt: skip
                    elif with_log:
                        record_nonce(session, creds, self.settings, req.received_at)
            self._spent.spend(creds)  # committed with the nonce claimed
        except AuthError:
            raise
        except GatewayError as refusal:
            if not spec.state_changing:
                self._record_nonce_alone(creds, req.received_at)
                raise
            return self._log_refusal(req, ref_id, creds, institution, envelope, digest, refusal)
        except IntegrityError:
            # The msgid was taken meanwhile (answer as it was answered), or the handler's
            # own write failed a constraint (an internal error).
            with unit_of_work(self.engine) as session:
                stored = self._stored(session, institution.code, envelope, digest)
                if stored is not None:
                    self._claim_nonce(session, creds, req.received_at)
            if stored is None:
                raise
            return stored
        if sign_refusal is not None:
            raise sign_refusal
        assert outcome is not None
        return outcome

    def _run(
        self,
        session: Session,
        req: _Request,
        ref_id: str,
        spec: HandlerSpec,
        institution: Institution,
        envelope: Envelope,
        inp: dict[str, Any],
        warn: str,
    ) -> Outcome:
        ctx = self._context(session, institution, envelope, req.received_at)
        output = spec.fn(ctx, Node(inp, "input"))
        if ctx.file_response is not None:
            content, filename = ctx.file_response
            return Outcome(200, "", 0, file=(content, filename))
        if ctx.warn_msg:
            warn = f"{warn}；{ctx.warn_msg}" if warn else ctx.warn_msg
        return Outcome(200, self._answer(req, ref_id, output=output, warn=warn), 0)

    def _log_answer(
        self,
        session: Session,
        req: _Request,
        ref_id: str,
        institution: Institution,
        envelope: Envelope,
        digest: str,
        outcome: Outcome,
        nonce_of: Credentials | None = None,
    ) -> None:
        """Insert the answer into the message log; with ``nonce_of``, claim its nonce in
        the same statement (PostgreSQL) and refuse a replay."""
        values = {
            "fixmedins_code": institution.code,
            "msgid": envelope.msgid,
            "infno": envelope.infno,
            "request_hash": digest,
            "infcode": outcome.infcode,
            "inf_refmsgid": ref_id,
            "response": outcome.body,
            "received_at": req.received_at,
            "reversed": False,
        }
        if nonce_of is None:
            _INSERT_LOG.execute(session, values)
            return
        values.update(n_key_id=nonce_of.key_id, n_nonce=nonce_of.nonce)
        if not _LOG_WITH_NONCE.tuples(session, values):
            raise replay_error(nonce_of, self.settings)

    def _record_nonce_alone(self, creds: Credentials, now: datetime) -> None:
        """A refused query wrote nothing: still spend its nonce, so the same headers
        cannot be sent again."""
        if not creds.nonce:
            return
        with unit_of_work(self.engine) as session:
            record_nonce(session, creds, self.settings, now)
        self._spent.spend(creds)

    def _stored(
        self, session: Session, code: str, envelope: Envelope, digest: str
    ) -> Outcome | None:
        row = session.scalars(
            select(MessageLogRow).where(
                MessageLogRow.fixmedins_code == code, MessageLogRow.msgid == envelope.msgid
            )
        ).one_or_none()
        if row is None:
            return None
        if row.request_hash != digest or row.infno != envelope.infno:
            raise InputError(
                f"msgid {envelope.msgid} was already used for a different request "
                f"(infno {row.infno}, received {row.received_at:%Y-%m-%d %H:%M:%S} UTC); "
                "send a new msgid"
            )
        return Outcome(200, row.response, row.infcode, replayed=True)

    def _log_refusal(
        self,
        req: _Request,
        ref_id: str,
        creds: Credentials,
        institution: Institution,
        envelope: Envelope,
        digest: str,
        refusal: GatewayError,
    ) -> Outcome:
        text = self._answer(req, ref_id, err_msg=refusal.message)
        try:
            with unit_of_work(self.engine) as session:
                stored = self._stored(session, institution.code, envelope, digest)
                if stored is not None:
                    return stored
                record_nonce(session, creds, self.settings, req.received_at)
                session.add(
                    MessageLogRow(
                        fixmedins_code=institution.code,
                        msgid=envelope.msgid,
                        infno=envelope.infno,
                        request_hash=digest,
                        infcode=-1,
                        inf_refmsgid=ref_id,
                        response=text,
                        received_at=req.received_at,
                        reversed=False,
                    )
                )
        except IntegrityError:
            with unit_of_work(self.engine) as session:
                stored = self._stored(session, institution.code, envelope, digest)
            if stored is not None:
                return stored
            raise
        self._spent.spend(creds)
        return Outcome(200, text, -1)

    def _check_sign_no(self, session: Session, institution: Institution, envelope: Envelope) -> str:
        """Validate ``sign_no`` when present (§2.7); required only in strict regions.

        Returns a warning for a bad ``sign_no`` outside strict regions.
        """
        if envelope.infno == SIGN_IN_INFNO:
            return ""
        strict = institution.region in self.settings.strict_sign_in_regions
        if not envelope.sign_no:
            if strict:
                raise InputError("sign_no: is required here: sign in with 9001 first")
            return ""
        row = session.get(SignInRow, envelope.sign_no)
        problem = ""
        if row is None or row.fixmedins_code != institution.code:
            problem = f"sign_no {envelope.sign_no} is unknown: sign in with 9001"
        elif row.signed_out_at is not None and envelope.infno != SIGN_OUT_INFNO:
            problem = f"sign_no {envelope.sign_no} was signed out: sign in again with 9001"
        if problem and strict:
            raise InputError(problem)
        return problem

    # --- answers -----------------------------------------------------------------------

    def _answer(
        self,
        req: _Request,
        ref_id: str,
        *,
        output: dict[str, Any] | None = None,
        err_msg: str = "",
        warn: str = "",
    ) -> str:
        env = response_envelope(
            infcode=-1 if err_msg else 0,
            inf_refmsgid=ref_id,
            received_at=req.received_at,
            responded_at=self.settings.clock(),
            err_msg=err_msg,
            output=None if err_msg else (output if output is not None else {}),
            warn_msg=warn,
        )
        if self.settings.log_bodies:
            log_body("response", req.ref, env)
        return jsonfmt.dumps(env)

    def _refusal(self, req: _Request, exc: GatewayError, status: int | None = None) -> Outcome:
        ref_id = new_refmsgid(self.settings.receiver_region or req.region, req.received_at)
        status = status or exc.http_status
        if status == 401:
            env = response_envelope(
                infcode=-1,
                inf_refmsgid=ref_id,
                received_at=req.received_at,
                responded_at=self.settings.clock(),
                err_msg=exc.message,
            )
            env["code"] = 401
            env["message"] = exc.message
            return Outcome(401, jsonfmt.dumps(env), -1)
        return Outcome(200, self._answer(req, ref_id, err_msg=exc.message), -1)


# --- multipart (9101) ----------------------------------------------------------------


def _multipart_document(body: bytes, content_type: str) -> dict[str, Any]:
    """The envelope of a multipart 9101: text part ``jsonStr`` plus a file part ``in`` or
    ``file``, whose bytes become ``input.fsUploadIn.in`` (Base64)."""
    parts = multipart_parts(body, content_type)
    if not parts:
        raise InputError("multipart body could not be read: no parts found")
    text_part: bytes | None = None
    file_part: tuple[bytes, str] | None = None
    for name, filename, payload in parts:
        if name == "jsonStr":
            text_part = payload
        elif name in ("in", "file"):
            file_part = (payload, filename)
    if text_part is None:
        raise InputError("multipart: the text part jsonStr (the envelope) is missing")
    doc = parse_json(text_part)
    if not isinstance(doc, dict):
        raise InputError("multipart: jsonStr must be a JSON object (the envelope)")
    if file_part is not None:
        inp = doc.get("input")
        if not isinstance(inp, dict):
            inp = {}
            doc["input"] = inp
        up = inp.get("fsUploadIn")
        if not isinstance(up, dict):
            up = {}
            inp["fsUploadIn"] = up
        up["in"] = base64.b64encode(file_part[0]).decode("ascii")
        if not up.get("filename") and file_part[1]:
            # the part header's filename never went through the JSON checks: the parser
            # turns a byte that is not UTF-8 into U+FFFD (the name would be stored garbled)
            # and keeps a NUL as it is
            if "\ufffd" in file_part[1]:
                raise InputError(
                    "input.fsUploadIn.filename: the file part's name is not UTF-8 text "
                    "(send it as UTF-8, or name the file in jsonStr)"
                )
            check_text(file_part[1], "input.fsUploadIn.filename")
            up["filename"] = file_part[1]
        if not doc.get("infno"):
            doc["infno"] = UPLOAD_INFNO
    return doc
