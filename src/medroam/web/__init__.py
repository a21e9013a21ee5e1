"""The agency console (经办管理系统) at ``/`` and the insured self-service pages at
``/self/``: server-rendered pages (Jinja2) on the gateway's FastAPI app, with bundled
static assets (no CDN, no external fonts)."""

from medroam.web.app import mount_web

__all__ = ["mount_web"]
