from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import is_platform_staff
from core.errors import DomainError
from core.validators import mask_phone

from . import services
from .models import Address, BuyerProfile, Merchant, MerchantEvent, MerchantStatus, User


class PlatformOnlyMixin:
    """Objects only platform staff may see (other merchants, buyers' data)."""

    def has_module_permission(self, request):
        return is_platform_staff(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return is_platform_staff(request.user) and super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return is_platform_staff(request.user) and super().has_change_permission(request, obj)

    def has_add_permission(self, request, *args):
        return is_platform_staff(request.user) and super().has_add_permission(request, *args)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(PlatformOnlyMixin, DjangoUserAdmin):
    list_display = [
        "email",
        "first_name",
        "last_name",
        "merchant",
        "is_staff",
        "is_active",
        "date_joined",
    ]
    list_select_related = ["merchant"]
    list_filter = ["is_staff", "is_active", "groups"]
    search_fields = ["email", "username", "first_name", "last_name"]
    ordering = ["-date_joined"]
    fieldsets = (
        (None, {"fields": ("email", "username", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name")}),
        (_("Merchant"), {"fields": ("merchant",)}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    raw_id_fields = ["merchant"]

    def has_change_permission(self, request, obj=None):
        # Only superusers may change other users' roles and passwords.
        return request.user.is_superuser


class MerchantActionForm(ActionForm):
    note = forms.CharField(label=_("Reason / note"), required=False, max_length=1000)


class MerchantEventInline(admin.TabularInline):
    model = MerchantEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "from_status", "to_status", "actor", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Merchant)
class MerchantAdmin(PlatformOnlyMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "country",
        "licence_number",
        "status",
        "applicant",
        "created_at",
        "reviewed_at",
    ]
    list_select_related = ["applicant"]
    list_filter = ["status", "country"]
    search_fields = ["name", "licence_number", "contact_email"]
    readonly_fields = [
        "name",
        "slug",
        "country",
        "licence_number",
        "licence_link",
        "contact_name",
        "contact_email",
        "masked_phone",
        "status",
        "applicant",
        "reviewed_by",
        "reviewed_at",
        "review_note",
        "created_at",
    ]
    exclude = ["contact_phone", "licence_document"]
    inlines = [MerchantEventInline]
    actions = ["approve", "reject", "suspend"]
    action_form = MerchantActionForm

    @admin.display(description=_("licence document"))
    def licence_link(self, obj):
        if not obj.licence_document:
            return "—"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            reverse("accounts:merchant_licence", args=[obj.pk]),
            _("Open the licence document"),
        )

    @admin.display(description=_("Contact phone"))
    def masked_phone(self, obj):
        return mask_phone(obj.contact_phone)

    def has_add_permission(self, request, *args):
        return False  # merchants apply at /merchants/apply/

    def _review(self, request, queryset, service, done_message):
        """Run a review service on each selected merchant; `done_message(n)` reports successes."""
        note = request.POST.get("note", "")
        done = 0
        for merchant in queryset:
            try:
                service(merchant=merchant, actor=request.user, note=note)
                done += 1
            except DomainError as err:
                self.message_user(request, f"{merchant}: {err.message}", messages.ERROR)
        if done:
            self.message_user(request, done_message(done), messages.SUCCESS)

    @admin.action(description=_("Approve selected applications"))
    def approve(self, request, queryset):
        self._review(
            request,
            queryset,
            services.merchant_approve,
            lambda n: (
                ngettext("%(n)d merchant approved.", "%(n)d merchants approved.", n) % {"n": n}
            ),
        )

    @admin.action(description=_("Reject selected applications (reason required in the note)"))
    def reject(self, request, queryset):
        self._review(
            request,
            queryset,
            services.merchant_reject,
            lambda n: (
                ngettext("%(n)d application rejected.", "%(n)d applications rejected.", n)
                % {"n": n}
            ),
        )

    @admin.action(description=_("Suspend selected merchants (reason required in the note)"))
    def suspend(self, request, queryset):
        self._review(
            request,
            queryset,
            services.merchant_suspend,
            lambda n: (
                ngettext("%(n)d merchant suspended.", "%(n)d merchants suspended.", n) % {"n": n}
            ),
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "pending": Merchant.objects.filter(status=MerchantStatus.PENDING).count(),
        }
        return super().changelist_view(request, extra_context)


class AddressInline(admin.TabularInline):
    model = Address
    extra = 0
    fields = ["recipient", "city", "line1", "is_default"]
    readonly_fields = fields
    can_delete = False


@admin.register(BuyerProfile)
class BuyerProfileAdmin(PlatformOnlyMixin, admin.ModelAdmin):
    list_display = [
        "user",
        "full_name",
        "masked_phone",
        "preferred_channel",
        "marketing_consent",
        "survey_consent",
    ]
    list_select_related = ["user"]
    search_fields = ["user__email", "full_name"]
    list_filter = ["preferred_channel", "marketing_consent", "survey_consent"]
    readonly_fields = [
        "user",
        "full_name",
        "masked_phone",
        "qq",
        "wechat_id",
        "preferred_channel",
        "timezone",
        "marketing_consent",
        "marketing_consent_at",
        "survey_consent",
        "survey_consent_at",
    ]
    exclude = ["phone"]
    inlines = [AddressInline]

    @admin.display(description=_("Mobile phone"))
    def masked_phone(self, obj):
        return mask_phone(obj.phone)

    def has_change_permission(self, request, obj=None):
        return False
