"""Bearer-token authentication and role/region authorisation of the agency API.

A token (``Authorization: Bearer <token>``) is looked up by its SHA-256 in
``agency_tokens``; it carries a role and a region scope:

* ``insured_place`` (参保地经办): one pooling region, for the people insured there;
* ``treatment_place`` (就医地经办): one pooling region, for its institutions and the
  people treated there;
* ``province`` (省级经办): every pooling region of one province (``XX0000``), in either role;
* ``nation`` (国家级): everything.

A call outside the role's region is answered 403, as is a call the role may not make.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine, select

from medroam.api.errors import ApiError, forbidden
from medroam.services.uow import unit_of_work
from medroam.store.tables import AgencyTokenRow

INSURED_PLACE = "insured_place"
TREATMENT_PLACE = "treatment_place"
PROVINCE = "province"
NATION = "nation"
ROLES = (INSURED_PLACE, TREATMENT_PLACE, PROVINCE, NATION)
ROLE_NAMES = {
    INSURED_PLACE: "参保地经办",
    TREATMENT_PLACE: "就医地经办",
    PROVINCE: "省级经办",
    NATION: "国家级",
}
MAX_TOKEN_LEN = 200

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="agencyToken",
    description=(
        "An agency token (经办令牌): `Authorization: Bearer <token>`. `medroam seed --demo` "
        "writes one per role and region into var/demo-fixtures.json (`agency_tokens`)."
    ),
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a role and its region scope (None for the nation)."""

    role: str
    region: str | None
    name: str

    def covers(self, region: str) -> bool:
        """Whether ``region`` (a pooling region or a province code) lies in the scope."""
        if self.role == NATION:
            return True
        if self.region is None:
            return False
        if self.role == PROVINCE:
            return region[:2] == self.region[:2]
        return region == self.region

    def describe(self) -> str:
        return self.role if self.region is None else f"{self.role} of {self.region}"

    def require(self, roles: Iterable[str], what: str) -> None:
        """403 unless the role is one of ``roles`` (the nation may always)."""
        allowed = set(roles) | {NATION}
        if self.role not in allowed:
            names = ", ".join(r for r in ROLES if r in allowed)
            raise forbidden(f"role {self.role} may not {what} (allowed roles: {names})")

    def require_region(self, region: str, what: str) -> None:
        """403 unless ``region`` lies in the role's scope."""
        if not self.covers(region):
            raise forbidden(
                f"role {self.describe()} may not {what} of region {region} (outside its region)"
            )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": 'Bearer realm="medroam agency"'})


def authenticate(engine: Engine, token: str | None) -> Principal:
    """The principal of a bearer token; 401 when missing, unknown or inactive."""
    if not token:
        raise _unauthorized("missing bearer token (Authorization: Bearer <agency token>)")
    if len(token) > MAX_TOKEN_LEN:
        raise _unauthorized("unknown agency token")
    with unit_of_work(engine) as session:
        row = session.execute(
            select(AgencyTokenRow).where(AgencyTokenRow.token_hash == hash_token(token))
        ).scalar_one_or_none()
    if row is None:
        raise _unauthorized("unknown agency token")
    if not row.active:
        raise _unauthorized("the agency token is no longer active")
    return Principal(role=row.role, region=row.region, name=row.name)


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
) -> Principal:
    """FastAPI dependency: the authenticated caller."""
    token = None if credentials is None else credentials.credentials
    return authenticate(engine_of(request), token)
