"""What is wrong with a diagram or form, said so that its author can fix it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    element: str | None
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.element}" if self.element else self.file
        return f"{where}: {self.message} Fix: {self.fix}"

    def as_dict(self) -> dict:
        return {"file": self.file, "element": self.element, "message": self.message, "fix": self.fix}


class InvalidDiagram(Exception):
    """Raised when diagrams or forms cannot be used; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))
