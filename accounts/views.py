from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from core.admin import is_platform_staff
from core.errors import DomainError
from core.storage import private_file_response

from . import selectors, services
from .forms import AddressForm, MerchantApplicationForm, ProfileForm
from .models import Address, Merchant


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    profile = services.buyer_profile_get_or_create(user=request.user)
    form = ProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        services.buyer_profile_update(user=request.user, data=form.cleaned_data)
        messages.success(request, _("Your profile is saved."))
        return redirect("accounts:profile")
    return render(
        request,
        "accounts/profile.html",
        {
            "form": form,
            "addresses": list(profile.addresses.all()),
            "application": selectors.merchant_application_pending(user=request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def address_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    profile = services.buyer_profile_get_or_create(user=request.user)
    # Someone else's address id is a 404: it does not exist for this buyer.
    address = get_object_or_404(Address, pk=pk, profile=profile) if pk else None
    form = AddressForm(request.POST or None, instance=address)
    if request.method == "POST" and form.is_valid():
        try:
            services.address_save(
                user=request.user,
                address=form.save(commit=False),
                make_default=form.cleaned_data["make_default"],
            )
        except DomainError as err:
            form.add_error(None, err.message)
        else:
            messages.success(request, _("Address saved."))
            return redirect(_safe_next(request) or "accounts:profile")
    return render(
        request,
        "accounts/address_form.html",
        {"form": form, "address": address, "next": _safe_next(request)},
    )


def _safe_next(request: HttpRequest) -> str:
    """Where to go after saving (checkout sends buyers here), if it is a page of this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


@login_required
@require_POST
def address_delete(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.address_delete(user=request.user, address_id=pk)
    except DomainError as err:
        if err.code == "not_found":
            return render(request, "404.html", status=404)
        messages.error(request, err.message)
    else:
        messages.success(request, _("Address deleted."))
    return redirect("accounts:profile")


@login_required
@require_http_methods(["GET", "POST"])
def merchant_apply(request: HttpRequest) -> HttpResponse:
    existing = selectors.merchant_application_pending(user=request.user)
    form = MerchantApplicationForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.merchant_apply(applicant=request.user, **form.cleaned_data)
        except DomainError as err:
            form.add_error(err.field if err.field in form.fields else None, err.message)
        else:
            messages.success(request, _("Thank you. The platform will review your application."))
            return redirect("accounts:merchant_apply")
    return render(request, "accounts/merchant_apply.html", {"form": form, "existing": existing})


@login_required
@require_safe
def merchant_licence(request: HttpRequest, pk: int) -> HttpResponse:
    """A merchant's licence document, for platform staff who review merchants and for that
    merchant's own staff; anyone else gets a 404 (not even whether the merchant exists)."""
    user = request.user
    reviewer = is_platform_staff(user) and user.has_perm("accounts.view_merchant")
    if not reviewer and user.merchant_id != pk:
        raise Http404
    merchant = get_object_or_404(Merchant, pk=pk)
    stem = f"licence-{merchant.slug}"
    return private_file_response(merchant.licence_document, download_stem=stem)
