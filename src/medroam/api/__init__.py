"""The agency REST API (经办机构接口), mounted under ``/api/v1``.

``mount_agency_api(app, engine)`` mounts it on an application (the gateway's);
``create_agency_app(engine)`` builds it alone; ``router`` holds its routes.
"""

from __future__ import annotations

from medroam.api.app import AGENCY_PREFIX, create_agency_app, mount_agency_api
from medroam.api.routes import router

__all__ = ["AGENCY_PREFIX", "create_agency_app", "mount_agency_api", "router"]
