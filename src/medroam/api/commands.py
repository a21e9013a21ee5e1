"""Write side of the agency API: persons, institutions and credentials, policy versions.

Filings go through :mod:`medroam.services.filings` (see ``routes``). Each function runs
in the caller's session (one unit of work per request) and raises
:class:`~medroam.api.errors.ApiError` for what the rules refuse.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medroam.api import queries, schemas
from medroam.api.errors import ApiError, conflict, invalid, not_found
from medroam.domain.codes import INSUTYPE_EMPLOYEE, AssistanceCategory
from medroam.domain.identity import IdNumberError, validate_id_number
from medroam.domain.money import MoneyError, yuan_to_fen
from medroam.domain.settlement import AccountState
from medroam.refdata.errors import ReferenceDataError
from medroam.refdata.policies import packaged_context, policy_from_dict, policy_to_dict
from medroam.services.ports import Insurance, InsuredPerson
from medroam.store.insured_place import register_person
from medroam.store.refdata_cache import touch
from medroam.store.refdata_loader import POLICIES
from medroam.store.tables import CredentialRow, InstitutionRow, PersonRow, PolicyRow

EMPLOYEE_PSN_TYPES = frozenset({"1101", "1102", "1103", "1201", "1202", "1203", "1300"})
RESIDENT_PSN_TYPES = frozenset({"1401", "1402", "1403", "1404", "1405", "1501"})
CIVIL_SERVANT_PSN_TYPES = frozenset({"1102", "1202"})
VOUCHER_E, VOUCHER_ID, VOUCHER_CARD = "01", "02", "03"


# --- persons ---------------------------------------------------------------------------------


def _new_psn_no(session: Session, region: str) -> str:
    for _ in range(20):
        candidate = f"{region}{secrets.randbelow(10**10):010d}"
        if session.get(PersonRow, candidate) is None:
            return candidate
    raise conflict("could not allocate a person number; try again")  # pragma: no cover


def create_person(session: Session, body: schemas.PersonCreate, now: datetime) -> str:
    """Register a person (参保登记); returns the psn_no."""
    try:
        ident = validate_id_number(body.certno.upper(), as_of=now.date())
    except IdNumberError as exc:
        raise invalid("certno", str(exc)) from None
    if body.gend is not None and body.gend != ident.gender:
        raise invalid(
            "gend", f"{body.gend} contradicts the ID number's gender digit ({ident.gender})"
        )
    if body.brdy is not None and body.brdy != ident.birth_date:
        raise invalid(
            "brdy", f"{body.brdy} contradicts the ID number's birth date ({ident.birth_date})"
        )
    allowed = EMPLOYEE_PSN_TYPES if body.insutype == INSUTYPE_EMPLOYEE else RESIDENT_PSN_TYPES
    if body.psn_type not in allowed:
        raise invalid(
            "psn_type",
            f"{body.psn_type} is not a person type of insutype {body.insutype} "
            f"({', '.join(sorted(allowed))})",
        )
    try:
        balance = yuan_to_fen(body.balc, field="balc")
    except MoneyError as exc:
        raise invalid("balc", str(exc)) from None
    if (body.card_no is None) != (body.card_sn is None):
        raise invalid("card_sn", "card_no and card_sn go together (社会保障卡号 + 卡识别码)")

    psn_no = body.psn_no or _new_psn_no(session, body.insuplc_admdvs)
    if session.get(PersonRow, psn_no) is not None:
        raise conflict(f"psn_no {psn_no} already exists")
    other = queries.person_by_certno(session, ident.number)
    if other is not None:
        raise conflict(f"certno is already registered as person {other}")
    vouchers: list[tuple[str, str, str | None]] = [(VOUCHER_ID, ident.number, None)]
    if body.e_voucher is not None:
        vouchers.append((VOUCHER_E, body.e_voucher, None))
    if body.card_no is not None:
        vouchers.append((VOUCHER_CARD, body.card_no, body.card_sn))
    for cert_type, cert_no, _ in vouchers:
        owner = queries.voucher_owner(session, cert_type, cert_no)
        if owner is not None:
            raise conflict(
                f"voucher {cert_no} (mdtrt_cert_type {cert_type}) already belongs to person {owner}"
            )
    person = InsuredPerson(
        psn_no=psn_no,
        name=body.psn_name,
        cert_type=body.psn_cert_type,
        cert_no=ident.number,
        gender=ident.gender,
        birth_date=ident.birth_date,
        naty=body.naty or "",
        phone=body.phone or "",
        insurances=(
            Insurance(
                insutype=body.insutype,
                psn_type=body.psn_type,
                status="1",
                insured_region=body.insuplc_admdvs,
                civil_servant=body.psn_type in CIVIL_SERVANT_PSN_TYPES,
                emp_name=body.emp_name or "",
                begin_date=body.psn_insu_date,
                assistance=None if body.assistance is None else AssistanceCategory(body.assistance),
            ),
        ),
    )
    register_person(
        session,
        person,
        vouchers=vouchers,
        account=AccountState(balance=balance, mutual_aid_balance=0),
        now=now,
    )
    if body.address is not None:
        row = session.get(PersonRow, psn_no)
        if row is not None:
            row.address = body.address
            session.flush()
    return psn_no


# --- institutions ----------------------------------------------------------------------------


def _secret(scheme: str) -> str:
    return secrets.token_hex(16) if scheme == "tif" else secrets.token_urlsafe(24)


def _key_id(scheme: str, code: str) -> str:
    suffix = secrets.token_hex(3)
    return {"tif": f"paas{code}-{suffix}", "csb": f"AK{code}-{suffix}"}.get(
        scheme, f"key{code}-{suffix}"
    )


def _next_code(session: Session, region: str) -> str:
    prefix = f"H{region}"
    codes = session.execute(
        select(InstitutionRow.fixmedins_code).where(
            InstitutionRow.fixmedins_code.like(prefix + "%")
        )
    ).scalars()
    used = [int(c[7:]) for c in codes if len(c) == 12 and c[7:].isdigit()]
    n = max(used, default=0) + 1
    if n > 99999:
        raise conflict(f"region {region} has no free institution code left")
    return f"{prefix}{n:05d}"


def create_institution(
    session: Session, body: schemas.InstitutionCreate
) -> tuple[str, list[schemas.Secret]]:
    code = body.fixmedins_code or _next_code(session, body.region)
    if session.get(InstitutionRow, code) is not None:
        raise conflict(f"fixmedins_code {code} already exists")
    session.add(
        InstitutionRow(
            fixmedins_code=code,
            name=body.fixmedins_name,
            region=body.region,
            level=body.level,
            kind=body.kind,
            networked=body.networked,
            active=True,
        )
    )
    session.flush()
    issued = []
    for scheme in dict.fromkeys(body.schemes):
        key_id, secret = _key_id(scheme, code), _secret(scheme)
        session.add(
            CredentialRow(
                fixmedins_code=code, scheme=scheme, key_id=key_id, secret=secret, active=True
            )
        )
        issued.append(schemas.Secret(scheme=scheme, key_id=key_id, secret=secret))
    session.flush()
    return code, issued


def deactivate_institution(session: Session, code: str) -> None:
    row = session.get(InstitutionRow, code, with_for_update=True)
    if row is None:
        raise not_found(f"no institution {code}")
    if not row.active:
        raise conflict(f"institution {code} is already inactive")
    row.active = False
    for cred in session.execute(
        select(CredentialRow).where(CredentialRow.fixmedins_code == code)
    ).scalars():
        cred.active = False
    session.flush()


def rotate_credentials(session: Session, code: str, scheme: str) -> schemas.Secret:
    """Retire the institution's active credentials of ``scheme`` and issue a new one."""
    row = session.get(InstitutionRow, code, with_for_update=True)
    if row is None:
        raise not_found(f"no institution {code}")
    if not row.active:
        raise conflict(f"institution {code} is inactive; its credentials cannot be rotated")
    for cred in session.execute(
        select(CredentialRow).where(
            CredentialRow.fixmedins_code == code, CredentialRow.scheme == scheme
        )
    ).scalars():
        cred.active = False
    key_id, secret = _key_id(scheme, code), _secret(scheme)
    session.add(
        CredentialRow(fixmedins_code=code, scheme=scheme, key_id=key_id, secret=secret, active=True)
    )
    session.flush()
    return schemas.Secret(scheme=scheme, key_id=key_id, secret=secret)


# --- policies --------------------------------------------------------------------------------


def upload_policy(
    session: Session, region: str, insutype: str, document: Any, now: datetime
) -> schemas.PolicyVersion:
    """Validate a policy document and store it as the newest version of (region, insutype).

    The version in force before it (open-ended, or running past the new start) is closed
    the day before the new one starts. A version that does not start after every stored
    one is refused (409): versions are appended, never inserted in between.
    """
    if not isinstance(document, dict):
        raise invalid("body", "a policy is a JSON object (see medroam/data/policies/README.md)")
    for key, expected in (("region", region), ("insutype", insutype)):
        if key in document and document[key] != expected:
            raise invalid(key, f"{document[key]!r} differs from the path ({expected})")
    try:
        policy = policy_from_dict(
            document, file=f"upload {region}/{insutype}", context=packaged_context()
        )
    except ReferenceDataError as exc:
        field = exc.field if exc.field != "(file)" else "body"
        raise ApiError(422, f"{field}: {exc.problem}", [(field, exc.problem)]) from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise invalid("body", f"not a valid policy: {exc}") from None
    rows = list(
        session.execute(
            select(PolicyRow)
            .where(PolicyRow.region == region, PolicyRow.insutype == insutype)
            .order_by(PolicyRow.effective_from)
            .with_for_update()
        ).scalars()
    )
    start = policy.effective_from
    if rows and rows[-1].effective_from >= start:
        latest = rows[-1].effective_from
        raise conflict(
            f"policy {region}/{insutype} already has a version from {latest.isoformat()}; a new "
            f"version must start after it (effective_from {start.isoformat()})"
        )
    if rows:
        last = rows[-1]
        if last.effective_to is None or last.effective_to >= start:
            closed = start - timedelta(days=1)
            last.effective_to = closed
            doc = dict(last.document)
            doc["effective_to"] = closed.isoformat()
            last.document = doc
    session.add(
        PolicyRow(
            region=region,
            insutype=insutype,
            effective_from=start,
            effective_to=policy.effective_to,
            document=policy_to_dict(policy),
            synthetic=policy.synthetic,
            source=policy.source[:200],
        )
    )
    session.flush()
    touch(session, POLICIES, now)
    return schemas.PolicyVersion(
        region=region,
        insutype=insutype,
        effective_from=start,
        effective_to=policy.effective_to,
        synthetic=policy.synthetic,
        source=policy.source[:200],
    )
