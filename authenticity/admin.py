"""Authenticity in the console.

Platform admins keep the checklists and each merchant's disposition policy. Appraisal cases and
dispositions are records: nobody edits them here. Merchant staff see the verdicts and evidence on
their own units only (another merchant's case is a 404 by URL); they see appraisers and witnesses
as pseudonymous staff numbers, not as people.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts import roles
from core.admin import MerchantScopedAdmin, is_platform_staff
from core.permissions import has_role

from . import services
from .models import (
    Appraisal,
    AppraisalCase,
    ChecklistItem,
    ChecklistTemplate,
    DispositionPolicy,
    UnitDisposition,
)


def _sees_people(request: HttpRequest) -> bool:
    """Platform staff and appraisers see who appraised or witnessed; merchant staff do not."""
    return is_platform_staff(request.user) or (
        request.user.is_authenticated
        and not request.user.merchant_id
        and has_role(request.user, roles.APPRAISER)
    )


def _pseudonym(user: Any) -> str:
    return "—" if user is None else _("Provena staff #%(id)s") % {"id": user.pk}


def _person(user: Any) -> str:
    return "—" if user is None else user.email


class PeopleFieldsMixin:
    """Who did it, by name for platform staff and as a staff number for merchants.

    Two display fields per person, and `get_fields` picks one per request: the admin objects
    are shared between requests, so nothing about the viewer may be stored on them.
    """

    people: tuple[str, ...] = ()

    def _for_viewer(self, request: HttpRequest, fields: list[str]) -> list[str]:
        other = "_pseudonym" if _sees_people(request) else "_person"
        return [f for f in fields if not f.endswith(other)]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self._for_viewer(request, list(self.fields))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self._for_viewer(request, list(self.readonly_fields))


class ReadOnlyInline(admin.StackedInline):
    """An inline of records: shown with its case, never added, changed or deleted here."""

    extra = 0
    max_num = 0
    can_delete = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("authenticity.view_appraisalcase")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CaseScopedAdmin(MerchantScopedAdmin):
    """Merchant-scoped records that appraisers (platform staff without a merchant) read in full."""

    def _appraiser(self, request: HttpRequest) -> bool:
        return (
            request.user.is_authenticated
            and not request.user.merchant_id
            and has_role(request.user, roles.APPRAISER)
        )

    def get_queryset(self, request: HttpRequest):
        if self._appraiser(request):
            return admin.ModelAdmin.get_queryset(self, request)
        return super().get_queryset(request)

    def _merchant_allowed(self, request: HttpRequest) -> bool:
        return self._appraiser(request) or super()._merchant_allowed(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Checklists -------------------------------------------------------------------------------


class ChecklistItemInline(admin.TabularInline):
    model = ChecklistItem
    fields = ["position", "text", "text_zh", "required"]
    extra = 1


@admin.register(ChecklistTemplate)
class ChecklistTemplateAdmin(admin.ModelAdmin):
    """Model permissions decide: platform admins edit, appraisers read, merchants never see it."""

    list_display = ["category", "item_count", "updated_at"]
    list_select_related = ["category"]
    search_fields = ["category__name", "category__name_zh"]
    autocomplete_fields = ["category"]
    inlines = [ChecklistItemInline]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).prefetch_related("items")

    @admin.display(description=_("checks"))
    def item_count(self, obj: ChecklistTemplate) -> int:
        return len(obj.items.all())


# --- Disposition policies ---------------------------------------------------------------------


@admin.register(DispositionPolicy)
class DispositionPolicyAdmin(MerchantScopedAdmin):
    list_display = ["merchant", "disposition", "counterfeit_disposition", "updated_at"]
    list_select_related = ["merchant"]
    search_fields = ["merchant__name"]
    fields = ["merchant", "disposition", "counterfeit_disposition", "updated_at"]
    readonly_fields = ["updated_at"]
    autocomplete_fields = ["merchant"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A policy belongs to its merchant for good; change the rules, not the owner.
        return [*self.readonly_fields, "merchant"] if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: DispositionPolicy, form, change) -> None:
        saved = services.disposition_policy_set(
            merchant=obj.merchant,
            disposition=obj.disposition,
            counterfeit_disposition=obj.counterfeit_disposition,
        )
        obj.pk = saved.pk

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # without a policy the defaults apply; set those explicitly instead


# --- Appraisal cases (records) ----------------------------------------------------------------


class AppraisalInline(PeopleFieldsMixin, ReadOnlyInline):
    model = Appraisal
    fields = [
        "stage",
        "verdict",
        "appraiser_person",
        "appraiser_pseudonym",
        "created_at",
        "notes",
        "answers",
        "photos",
    ]
    readonly_fields = fields
    verbose_name = _("appraisal")
    verbose_name_plural = _("appraisals")

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("appraiser").prefetch_related("photos")

    @admin.display(description=_("appraiser"))
    def appraiser_person(self, obj: Appraisal) -> str:
        return _person(obj.appraiser)

    @admin.display(description=_("appraiser"))
    def appraiser_pseudonym(self, obj: Appraisal) -> str:
        return _pseudonym(obj.appraiser)

    @admin.display(description=_("checklist"))
    def answers(self, obj: Appraisal) -> str:
        labels = {"pass": _("Pass"), "fail": _("Fail"), "na": _("N/A")}
        if not obj.checklist:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><strong>{}</strong> {}</li>",
                ((labels.get(r.get("answer"), "?"), r.get("text", "")) for r in obj.checklist),
            ),
        )

    @admin.display(description=_("photos"))
    def photos(self, obj: Appraisal) -> str:
        photos = list(obj.photos.all())
        if not photos:
            return "—"
        return format_html_join(
            " ",
            '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="" '
            'style="height:96px;border-radius:4px"></a>',
            (
                (
                    reverse("authenticity:photo", args=[p.pk, "image"]),
                    reverse("authenticity:photo", args=[p.pk, "thumbnail"]),
                )
                for p in photos
            ),
        )


class DispositionPeople:
    @admin.display(description=_("performed by"))
    def performed_by_person(self, obj: UnitDisposition) -> str:
        return _person(obj.performed_by)

    @admin.display(description=_("performed by"))
    def performed_by_pseudonym(self, obj: UnitDisposition) -> str:
        return _pseudonym(obj.performed_by)

    @admin.display(description=_("witness"))
    def witness_person(self, obj: UnitDisposition) -> str:
        return _person(obj.witness)

    @admin.display(description=_("witness"))
    def witness_pseudonym(self, obj: UnitDisposition) -> str:
        return _pseudonym(obj.witness)


DISPOSITION_PEOPLE = [
    "performed_by_person",
    "performed_by_pseudonym",
    "witness_person",
    "witness_pseudonym",
]


class DispositionInline(PeopleFieldsMixin, DispositionPeople, ReadOnlyInline):
    model = UnitDisposition
    fields = ["kind", *DISPOSITION_PEOPLE, "method", "carrier", "waybill", "created_at"]
    readonly_fields = fields
    fk_name = "case"

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("performed_by", "witness")


@admin.register(AppraisalCase)
class AppraisalCaseAdmin(CaseScopedAdmin):
    list_display = [
        "reference",
        "item_number",
        "product",
        "merchant",
        "status",
        "final_verdict",
        "opened_at",
        "finalized_at",
    ]
    list_display_links = ["reference", "item_number"]
    list_select_related = ["unit__product", "merchant"]
    list_filter = ["status", "final_verdict"]
    search_fields = ["unit__item_number"]
    fields = [
        "reference",
        "item_number",
        "product",
        "merchant_name",
        "status",
        "final_verdict",
        "opened_at",
        "finalized_at",
    ]
    readonly_fields = fields
    inlines = [AppraisalInline, DispositionInline]
    date_hierarchy = "opened_at"
    list_per_page = 50

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("unit__product", "merchant")

    @admin.display(description=_("case"), ordering="pk")
    def reference(self, obj: AppraisalCase) -> str:
        return obj.reference

    @admin.display(description=_("item number"), ordering="unit__item_number")
    def item_number(self, obj: AppraisalCase) -> str:
        return obj.unit.item_number

    @admin.display(description=_("product"))
    def product(self, obj: AppraisalCase) -> str:
        return obj.unit.product.name

    @admin.display(description=_("merchant"))
    def merchant_name(self, obj: AppraisalCase) -> str:
        return obj.merchant.name  # plain text: the merchant admin is for platform staff

    def get_list_filter(self, request: HttpRequest) -> list:
        if is_platform_staff(request.user):
            return [*self.list_filter, ("merchant", admin.RelatedOnlyFieldListFilter)]
        return self.list_filter


@admin.register(UnitDisposition)
class UnitDispositionAdmin(PeopleFieldsMixin, DispositionPeople, CaseScopedAdmin):
    merchant_path = "case__merchant"
    list_display = ["__str__", "unit", "kind", "case", "created_at"]
    list_select_related = ["unit", "case"]
    list_filter = ["kind"]
    search_fields = ["unit__item_number", "waybill"]
    fields = [
        "unit",
        "case",
        "kind",
        *DISPOSITION_PEOPLE,
        "method",
        "carrier",
        "waybill",
        "note",
        "created_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest):
        return (
            super().get_queryset(request).select_related("unit", "case", "performed_by", "witness")
        )
