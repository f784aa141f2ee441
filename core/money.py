"""Money for people: the currency's symbol and usual decimals; amounts stay Decimal."""

from decimal import ROUND_HALF_UP, Decimal

from django.contrib.humanize.templatetags.humanize import intcomma

SYMBOLS = {
    "CNY": "¥",
    "USD": "US$",
    "EUR": "€",
    "JPY": "JP¥",
    "KRW": "₩",
    "GBP": "£",
    "AUD": "A$",
    "HKD": "HK$",
}
NO_DECIMALS = {"JPY", "KRW"}
CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    """Round half up to 0.01, the way taxes and totals are rounded."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal | None, currency: str = "CNY") -> str:
    """¥1,299.00 / JP¥12,800."""
    if amount is None:
        return ""
    places = 0 if currency in NO_DECIMALS else 2
    value = intcomma(f"{amount:.{places}f}", use_l10n=False)
    return f"{SYMBOLS.get(currency, currency + ' ')}{value}"
