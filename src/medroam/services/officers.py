"""Officer accounts of the agency console (经办人员): creation and the demo officers.

Passwords are hashed with Argon2id (argon2-cffi's defaults)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from medroam.store.console_tables import OFFICER_ROLES, OfficerRow

password_hasher = PasswordHasher()

DEMO_PASSWORD = "Demo-2026!"  # synthetic: for the demo nation only
ROLE_NAMES = {
    "insured_place": "参保地经办",
    "treatment_place": "就医地经办",
    "province": "省级",
    "nation": "国家级",
    "auditor": "审核员",
}


class OfficerError(ValueError):
    pass


def hash_password(password: str) -> str:
    return password_hasher.hash(password)


def create_officer(
    session: Session,
    *,
    username: str,
    display_name: str,
    role: str,
    region: str | None,
    password: str,
    now: datetime,
) -> None:
    """Add an officer; the nation role has no region, every other role has one (a pooling
    region, or a province ``XX0000`` for 省级 and 审核员)."""
    if role not in OFFICER_ROLES:
        raise OfficerError(f"unknown role {role}")
    if (role == "nation") != (region is None):
        raise OfficerError("the nation role has no region; every other role has one")
    if len(password) < 8:
        raise OfficerError("a password has at least 8 characters")
    session.add(
        OfficerRow(
            username=username,
            display_name=display_name,
            role=role,
            region=region,
            password_hash=hash_password(password),
            active=True,
            failed_logins=0,
            locked_until=None,
            created_at=now,
        )
    )


def demo_officer_plan(regions: Sequence[str]) -> list[dict[str, Any]]:
    """The demo officers for the seeded pooling regions: the nation; for the first two
    regions an officer of each place role; for their provinces a 省级 and a 审核员."""
    plan: list[dict[str, Any]] = [
        {"username": "nation", "display_name": "国家级演示经办", "role": "nation", "region": None}
    ]
    ordered = sorted(regions)
    chosen = ordered[:1] + [r for r in ordered if r[:2] != ordered[0][:2]][:1]
    for region in chosen:
        for role in ("insured_place", "treatment_place"):
            plan.append(
                {
                    "username": f"{role}-{region}",
                    "display_name": f"{ROLE_NAMES[role]}演示（{region}）",
                    "role": role,
                    "region": region,
                }
            )
    for province in sorted({r[:2] + "0000" for r in chosen}):
        for role in ("province", "auditor"):
            plan.append(
                {
                    "username": f"{role}-{province}",
                    "display_name": f"{ROLE_NAMES[role]}演示（{province}）",
                    "role": role,
                    "region": province,
                }
            )
    return plan


def seed_demo_officers(
    session: Session, regions: Sequence[str], now: datetime
) -> list[dict[str, Any]]:
    """Create the demo officers not there yet; return all of them for the fixtures."""
    plan = demo_officer_plan(regions)
    known = set(session.execute(select(OfficerRow.username)).scalars())
    for o in plan:
        if o["username"] not in known:
            create_officer(session, password=DEMO_PASSWORD, now=now, **o)
    return [
        {**o, "role_name": ROLE_NAMES[o["role"]], "password": DEMO_PASSWORD, "synthetic": True}
        for o in plan
    ]


def demo_code(psn_no: str) -> str:
    """The fixed self-service one-time code of a person of a demo-seeded region
    (SYNTHETIC data only; a person of any other region gets a random code)."""
    digest = hashlib.sha256(f"medroam-demo-otp:{psn_no}".encode()).hexdigest()
    return f"{int(digest[:12], 16) % 1_000_000:06d}"
