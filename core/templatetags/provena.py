from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core import permissions
from core.money import format_money

register = template.Library()


@register.simple_tag
def money(amount: Decimal | None, currency: str = "CNY") -> str:
    """¥1,299.00 / JP¥12,800: the symbol of the currency and its usual decimals."""
    return format_money(amount, currency)


@register.simple_tag
def stars(avg: Decimal | None, count: int = 0) -> str:
    """Accessible star rating: visible stars, and the number in words for screen readers."""
    if not count or avg is None:
        return format_html('<span class="rating rating--none">{}</span>', _("No ratings yet"))
    full = int(Decimal(avg).quantize(Decimal("1")))
    label = ngettext(
        "%(avg)s out of 5 from %(count)s rating", "%(avg)s out of 5 from %(count)s ratings", count
    ) % {"avg": f"{avg:.1f}", "count": count}
    return format_html(
        '<span class="rating" role="img" aria-label="{}"><span aria-hidden="true">{}{}</span> '
        '<span class="rating__num" aria-hidden="true">{} ({})</span></span>',
        label,
        "★" * full,
        "☆" * (5 - full),
        f"{avg:.1f}",
        count,
    )


@register.simple_tag(takes_context=True)
def page_url(context, number: int) -> str:
    qs = context.get("querystring", "")
    return f"?{qs}&page={number}" if qs else f"?page={number}"


@register.filter
def has_role(user, role: str) -> bool:
    """`{% if user|has_role:"warehouse" %}`: the check the stations make (core.permissions)."""
    return permissions.has_role(user, role)
