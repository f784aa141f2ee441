"""Who may use the staff stations: platform roles (auth Groups), checked on every request."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from accounts import roles


def has_role(user: Any, *wanted: str) -> bool:
    """Superusers and platform admins may do everything a station allows."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    cache = getattr(user, "_provena_roles", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._provena_roles = cache
    return bool(cache & {*wanted, roles.PLATFORM_ADMIN})


def role_required(*wanted: str) -> Callable:
    """Anonymous users go to login; signed-in users without the role get 403."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, *wanted):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
