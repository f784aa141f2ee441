"""Admin building blocks: merchant staff see only their own objects; platform staff see all."""

from typing import Any

from django.contrib import admin
from django.http import Http404, HttpRequest

from accounts import roles


def is_platform_staff(user: Any) -> bool:
    """Superusers and platform admins see every merchant's objects."""
    if not user.is_active or not user.is_staff:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_provena_platform", None)
    if cached is None:
        cached = user.groups.filter(name=roles.PLATFORM_ADMIN).exists()
        user._provena_platform = cached
    return cached


def merchant_id_for(user: Any) -> int | None:
    return None if is_platform_staff(user) else user.merchant_id


class MerchantScopedAdmin(admin.ModelAdmin):
    """For models with a merchant (directly or via `merchant_path`).

    Merchant staff: the changelist, change/delete views, raw-id popups and autocomplete all start
    from `get_queryset`, so scoping it hides another merchant's objects everywhere (404 by URL).
    """

    merchant_path = "merchant"

    def get_queryset(self, request: HttpRequest):
        qs = super().get_queryset(request)
        if is_platform_staff(request.user):
            return qs
        if not request.user.merchant_id:
            return qs.none()
        return qs.filter(**{self.merchant_path: request.user.merchant_id})

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Django would redirect to the index; another merchant's object must look exactly
            # like one that does not exist, on every view that loads one (change, delete, history).
            raise Http404
        return obj

    def _merchant_allowed(self, request: HttpRequest) -> bool:
        # The admin login page builds its app list for an anonymous user, who has no merchant.
        return is_platform_staff(request.user) or bool(getattr(request.user, "merchant_id", None))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._merchant_allowed(request) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._merchant_allowed(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._merchant_allowed(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._merchant_allowed(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._merchant_allowed(request) and super().has_delete_permission(request, obj)


class ReadOnlyAdmin:
    """Records only services write: viewable, never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
