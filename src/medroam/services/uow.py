"""The unit of work: one use case, one transaction.

``with unit_of_work(engine) as session:`` commits when the block ends normally and rolls
back on any exception (the exception propagates), so a use case is written completely
or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    session = Session(engine, expire_on_commit=False, autoflush=True)
    try:
        with session.begin():
            yield session
    finally:
        session.close()
