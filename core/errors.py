"""Domain errors: services raise these with a stable code; views turn them into messages."""

from django.utils.functional import Promise


class DomainError(Exception):
    """A rule of the platform refused the action. `code` is stable; `message` is for people."""

    code: str = "domain_error"

    def __init__(
        self, message: str | Promise, *, code: str | None = None, field: str | None = None
    ):
        super().__init__(str(message))
        self.message = message
        if code:
            self.code = code
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


class PermissionDeniedError(DomainError):
    code = "permission_denied"


class NotFoundError(DomainError):
    code = "not_found"
