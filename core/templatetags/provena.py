from decimal import Decimal

from django import template
from django.template.base import FilterExpression, TextNode, Variable
from django.template.defaulttags import URLNode
from django.templatetags.i18n import TranslateNode
from django.templatetags.static import StaticNode
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

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


def _constant(expression: FilterExpression) -> bool:
    """A quoted string with no filters: the same whoever asks."""
    var = expression.var
    return not expression.filters and (
        isinstance(var, str) or (isinstance(var, Variable) and var.lookups is None)
    )


def _same_for_everyone(node: template.Node) -> bool:
    if isinstance(node, TextNode):
        return True
    if isinstance(node, TranslateNode):
        return node.asvar is None and _constant(node.filter_expression)
    if isinstance(node, URLNode):
        constant_args = not node.args and not node.kwargs and node.asvar is None
        return constant_args and _constant(node.view_name)
    if isinstance(node, StaticNode):
        return node.varname is None and _constant(node.path)
    return False


class PerLanguageNode(template.Node):
    def __init__(self, nodelist: template.NodeList) -> None:
        self.nodelist = nodelist
        self.rendered: dict[str | None, SafeString] = {}

    def render(self, context: template.Context) -> SafeString:
        language = get_language()
        html = self.rendered.get(language)
        if html is None:
            html = self.rendered[language] = self.nodelist.render(context)
        return html


@register.tag
def per_language(parser: template.base.Parser, token: template.base.Token) -> PerLanguageNode:
    """`{% per_language %}…{% endper_language %}`: rendered once per language by each worker.

    For the site's chrome, which every page renders: ~20 {% translate %} and {% url %} tags cost
    a cached catalog page a tenth of its time. Only text and {% translate %}, {% url %} and
    {% static %} with quoted arguments may go inside (checked as the template compiles), so
    nothing that depends on the request or the user can be repeated to someone else.
    """
    nodelist = parser.parse(("endper_language",))
    parser.delete_first_token()
    for node in nodelist:
        if not _same_for_everyone(node):
            raise template.TemplateSyntaxError(
                f"{{% per_language %}} repeats its content to every visitor: {node!r} may depend "
                "on the request; only text and {% translate %}, {% url %}, {% static %} with "
                "quoted arguments may go inside."
            )
    return PerLanguageNode(nodelist)
