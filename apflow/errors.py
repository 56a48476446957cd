"""Errors a person or a script can act on; the web layer turns each into a JSON error or a page."""
from __future__ import annotations


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details=None):
        super().__init__(message)
        self.message = message
        self.details = details if details is not None else {}


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Unauthorized(ServiceError):
    status, code = 401, "unauthorized"


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class Invalid(ServiceError):
    status, code = 422, "invalid"


class WorkflowFailed(ServiceError):
    """The diagram itself failed at run time; nothing was changed and the error is on the instance."""
    status, code = 422, "workflow_error"


class TooManyAttempts(ServiceError):
    status, code = 429, "too_many_attempts"
