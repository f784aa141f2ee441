"""Merchant console for surveys: questions (with a preview), ratings (reply), invitations.

Merchant staff see only their own products' questions, ratings and invitations (404 by URL for
another merchant's); customer service and platform admins see all and may hide an abusive
text with a reason. Nothing here deletes a rating; every write goes through aftersales.services.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import roles
from core.admin import MerchantScopedAdmin, ReadOnlyAdmin, is_platform_staff
from core.errors import DomainError
from core.permissions import has_role

from . import selectors, services
from .models import SurveyAnswer, SurveyInvitation, SurveyQuestion, SurveyResponse


def _sees_all(user: Any) -> bool:
    """Platform staff and customer service; merchant staff never (and cost no roles query)."""
    if getattr(user, "merchant_id", None):
        return False
    return is_platform_staff(user) or has_role(user, roles.CUSTOMER_SERVICE)


@admin.register(SurveyQuestion)
class SurveyQuestionAdmin(MerchantScopedAdmin):
    list_display = ["prompt", "product", "category", "kind", "required", "active", "position"]
    list_filter = ["kind", "active"]
    search_fields = ["prompt", "product__name"]
    list_select_related = ["product", "category"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = ["product", "category", "kind", "prompt", "choices", "required", "position"]
        fields.append("active")
        if is_platform_staff(request.user):
            fields.insert(0, "merchant")
        return fields

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "product" and not is_platform_staff(request.user):
            model = db_field.remote_field.model
            kwargs["queryset"] = model.objects.filter(merchant_id=request.user.merchant_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # answered questions stay; stop asking them instead ("asked")

    def save_model(
        self, request: HttpRequest, obj: SurveyQuestion, form: Any, change: bool
    ) -> None:
        if not is_platform_staff(request.user):
            obj.merchant_id = request.user.merchant_id
        services.question_save(question=obj, actor=request.user)

    def get_urls(self) -> list:
        view = self.admin_site.admin_view(self.preview_view)
        return [
            path("preview/<int:product_id>/", view, name="aftersales_surveyquestion_preview"),
            *super().get_urls(),
        ]

    @admin.display(description=_("preview"))
    def preview_link(self, obj: SurveyQuestion) -> str:
        if obj.product_id is None:
            return "—"
        url = reverse("admin:aftersales_surveyquestion_preview", args=[obj.product_id])
        return format_html('<a href="{}">{}</a>', url, gettext("Preview the survey"))

    def get_list_display(self, request: HttpRequest) -> list[str]:
        return [*self.list_display, "preview_link"]

    def preview_view(self, request: HttpRequest, product_id: int) -> HttpResponse:
        """The survey a buyer of this product gets, as they see it (nothing can be sent)."""
        if not self.has_view_permission(request):
            raise Http404
        product_model = SurveyQuestion._meta.get_field("product").remote_field.model
        products = product_model.objects.select_related("category")
        if not is_platform_staff(request.user):
            products = products.filter(merchant_id=request.user.merchant_id)
        product = products.filter(pk=product_id).first()
        if product is None:
            raise Http404
        from .forms import SurveyForm

        questions = selectors.survey_questions_for_product(product=product)
        sample = SurveyInvitation(product=product, product_name=product.name, order_number="—")
        context = {"invitation": sample, "form": SurveyForm(questions=questions), "preview": True}
        return render(request, "aftersales/survey.html", context)


class SurveyAnswerInline(admin.TabularInline):
    model = SurveyAnswer
    fields = ["prompt", "stars", "choice", "text"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SurveyResponseAdminForm(forms.ModelForm):
    class Meta:
        model = SurveyResponse
        fields = ["reply", "hidden", "hidden_reason"]

    def clean(self) -> dict:
        data = super().clean()
        if data.get("hidden") and not (data.get("hidden_reason") or "").strip():
            self.add_error("hidden_reason", gettext("Give the reason, it is kept with the rating."))
        return data


@admin.register(SurveyResponse)
class SurveyResponseAdmin(MerchantScopedAdmin):
    form = SurveyResponseAdminForm
    list_display = ["created_at", "product", "overall", "short_comment", "hidden", "replied"]
    list_filter = ["overall", "hidden"]
    search_fields = ["product__name", "invitation__order_number", "invitation__item_number"]
    list_select_related = ["product"]
    inlines = [SurveyAnswerInline]
    ordering = ["-id"]

    def get_queryset(self, request: HttpRequest) -> Any:
        if _sees_all(request.user):
            return admin.ModelAdmin.get_queryset(self, request)
        return super().get_queryset(request)

    def _merchant_allowed(self, request: HttpRequest) -> bool:
        return _sees_all(request.user) or super()._merchant_allowed(request)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = ["product", "overall", "comment", "created_at", "reply", "replied_at"]
        if _sees_all(request.user):
            fields += ["hidden", "hidden_reason", "hidden_by", "hidden_at"]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        editable = {"reply"}
        if _sees_all(request.user):
            editable |= {"hidden", "hidden_reason"}
        return [f for f in self.get_fields(request, obj) if f not in editable]

    @admin.display(description=_("comment"))
    def short_comment(self, obj: SurveyResponse) -> str:
        if obj.hidden:
            return gettext("(hidden)")
        return obj.comment[:80]

    @admin.display(description=_("replied"), boolean=True)
    def replied(self, obj: SurveyResponse) -> bool:
        return bool(obj.reply)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # ratings are never deleted (E-Commerce Law art. 39)

    def save_model(
        self, request: HttpRequest, obj: SurveyResponse, form: Any, change: bool
    ) -> None:
        try:
            if "reply" in form.changed_data:
                services.response_reply(
                    response_id=obj.pk, actor=request.user, text=form.cleaned_data["reply"]
                )
            if {"hidden", "hidden_reason"} & set(form.changed_data):
                services.response_hide(
                    response_id=obj.pk,
                    actor=request.user,
                    reason=form.cleaned_data.get("hidden_reason", ""),
                    hidden=form.cleaned_data.get("hidden", False),
                )
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None  # answers are the buyer's: never written here


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    list_display = [
        "item_number",
        "product_name",
        "order_number",
        "status",
        "channel",
        "send_after",
        "sent_at",
        "answered_at",
    ]
    list_filter = ["status", "trigger", "channel"]
    search_fields = ["item_number", "order_number"]
    fields = [
        "item_number",
        "product_name",
        "order_number",
        "status",
        "skip_reason",
        "trigger",
        "send_after",
        "sent_at",
        "channel",
        "message_status",
        "expires_at",
        "reminded_at",
        "opened_at",
        "answered_at",
    ]
    readonly_fields = fields
    ordering = ["-id"]

    def get_queryset(self, request: HttpRequest) -> Any:
        if _sees_all(request.user):
            return admin.ModelAdmin.get_queryset(self, request)
        return super().get_queryset(request)

    def _merchant_allowed(self, request: HttpRequest) -> bool:
        return _sees_all(request.user) or super()._merchant_allowed(request)
