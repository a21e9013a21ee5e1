"""The one error type of reference-data loading."""

from __future__ import annotations


class ReferenceDataError(ValueError):
    """A packaged or user-supplied reference file is invalid.

    The message always names the file, the record (row, region, item …) and the field,
    and quotes the offending value.
    """

    def __init__(self, file: str, where: str, field: str, problem: str) -> None:
        self.file = file
        self.where = where
        self.field = field
        self.problem = problem
        loc = f"{file}: {where}" if where else file
        super().__init__(f"{loc}: field '{field}': {problem}")
