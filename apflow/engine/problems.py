"""What is wrong with a diagram or form, said so that its author can fix it."""
from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    file: str
    element: str | None
    message: str
    fix: str
    # "error" stops a deploy; "warning" is worth fixing but the diagram runs as it is.
    severity: str = ERROR

    @property
    def is_error(self) -> bool:
        return self.severity != WARNING

    def __str__(self) -> str:
        where = f"{self.file}: {self.element}" if self.element else self.file
        prefix = "warning: " if not self.is_error else ""
        return f"{prefix}{where}: {self.message} Fix: {self.fix}"

    def as_dict(self) -> dict:
        return {"file": self.file, "element": self.element, "message": self.message, "fix": self.fix, "severity": self.severity}


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.is_error]


def warnings(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if not p.is_error]


class InvalidDiagram(Exception):
    """Raised when diagrams or forms cannot be used; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))
