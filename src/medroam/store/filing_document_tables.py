"""Documents (证明材料) sent with a filing from the self-service pages, on the shared
metadata of ``store/tables.py``. Created by migration ``0020_filing_documents``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from medroam.store.tables import Base, UtcDateTime


class FilingDocumentRow(Base):
    __tablename__ = "filing_documents"
    __table_args__ = (Index("ix_filing_documents_filing_id", "filing_id"),)

    document_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    filing_id: Mapped[str] = mapped_column(String(40), ForeignKey("filings.filing_id"))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime)
