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


class Unavailable(Exception):
    """The database did not answer (down, frozen or out of connections). Not a ServiceError: no page or use case
    should treat it as the person's mistake. The step was rolled back and nothing is recorded against the placement;
    the web answers 503 with Retry-After, and the same request sent again a few seconds later is expected to work."""
    status, code = 503, "unavailable"
    retry_after = 5  # seconds, for the Retry-After header
    message = "The service is unavailable for a moment. Please try again in a few seconds."

    def __init__(self, cause: str = ""):
        super().__init__(cause or self.message)
        self.cause = cause
