"""Platform staff read the outbox: statuses, attempts, the provider's answers; phones masked."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.admin import is_platform_staff

from .models import Message, MessageEvent


class MessageEventInline(admin.TabularInline):
    model = MessageEvent
    fields = ("created_at", "from_status", "to_status", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = (
        "idempotency_key",
        "purpose",
        "category",
        "channel",
        "recipient_masked",
        "status",
        "reason",
        "attempts",
        "created_at",
        "sent_at",
    )
    list_filter = ("status", "category", "channel", "purpose")
    search_fields = ("idempotency_key",)
    list_select_related = ()
    show_full_result_count = False
    # `recipient` (the raw phone / account) is never shown: only its masked form.
    fields = (
        "user",
        "idempotency_key",
        "category",
        "purpose",
        "channel",
        "recipient_masked",
        "status",
        "reason",
        "attempts",
        "text",
        "provider_message_id",
        "provider_answer",
        "next_attempt_at",
        "created_at",
        "sent_at",
        "delivered_at",
        "failed_at",
    )
    readonly_fields = fields
    raw_id_fields = ("user",)
    inlines = [MessageEventInline]

    @admin.display(description=_("recipient"))
    def recipient_masked(self, obj: Message) -> str:
        return obj.masked_recipient

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_platform_staff(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_staff(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
