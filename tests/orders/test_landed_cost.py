"""The landed-cost engine against the seeded rule tables (data, effective-dated)."""

from datetime import date
from decimal import Decimal

import pytest

from logistics.models import RegimeRule, TaxRate
from logistics.selectors import CostLine, landed_cost, shipping_method_get

pytestmark = pytest.mark.django_db
D = Decimal
RATES = {"CNY": D(1), "EUR": D("7.8")}


def quote(country="CN", lines=((1, "650100", 1, "100.00"),), method="cn-bonded", **kwargs):
    return landed_cost(
        country=country,
        lines=[CostLine(key, hs, qty, D(price)) for key, hs, qty, price in lines],
        method=shipping_method_get(code=method),
        weight_grams=kwargs.pop("weight_grams", 500),
        cny_per_unit=RATES,
        **kwargs,
    )


def test_china_general_goods_pay_70_percent_of_vat_on_goods_and_freight():
    cost = quote()
    assert (cost.goods, cost.shipping) == (D("100.00"), D("18.00"))  # 12 + 6 per started kg
    # (0 + 13%) / (1 - 0) x 0.7 = 9.1% of 118.00
    assert cost.tax == D("10.74")
    assert cost.total == D("128.74")
    assert cost.ok
    assert not cost.full_tax


def test_china_cosmetics_pay_consumption_tax_too():
    cost = quote(lines=((1, "330499", 2, "100.00"),))
    # (15% + 13%) / (1 - 15%) x 0.7 = 23.06% of 218.00
    assert cost.tax == D("50.27")


def test_freight_is_shared_by_goods_value_and_adds_up():
    cost = quote(lines=((1, "650100", 1, "100.00"), (2, "330499", 1, "300.00")))
    shares = [line.freight_share for line in cost.lines]
    assert sum(shares) == cost.shipping
    assert shares[1] == 3 * shares[0]


def test_over_the_per_order_limit_says_which_limit_and_by_how_much():
    cost = quote(lines=((1, "650100", 2, "2600.00"),))
    assert not cost.ok
    [problem] = cost.problems
    assert problem.code == "per_order"
    assert "¥5,218.00" in problem.message  # goods 5,200 + shipping 18
    assert "¥218.00 over the ¥5,000.00 limit" in problem.message


def test_one_indivisible_item_over_the_order_limit_is_allowed_and_taxed_in_full():
    cost = quote(lines=((1, "650100", 1, "6000.00"),))
    assert cost.ok
    assert cost.full_tax
    base = D("6018.00")
    tariff = (base * D("0.10")).quantize(D("0.01"))
    vat = ((base + tariff) * D("0.13")).quantize(D("0.01"))
    assert cost.tax == tariff + vat


def test_the_annual_limit_counts_what_the_orderer_used_this_year():
    cost = quote(lines=((1, "650100", 1, "2000.00"),), annual_used=D("25000.00"))
    [problem] = cost.problems
    assert problem.code == "annual"
    assert "¥27,018.00" in problem.message
    assert "¥1,018.00 over" in problem.message
    assert "¥25,000.00" in problem.message


def test_eu_charges_destination_vat_and_refuses_consignments_over_150_eur():
    cost = quote(
        "DE", lines=((1, "650100", 1, "780.00"),), method="eu-tracked", on=date(2026, 5, 1)
    )
    assert cost.ok
    assert cost.shipping == D("128.00")
    assert cost.tax == D("172.52")  # 19% of 908.00
    assert cost.duty == 0
    over = quote("FR", lines=((1, "650100", 2, "780.00"),), method="eu-tracked")
    [problem] = over.problems
    assert "€200.00" in problem.message
    assert "€50.00 over the €150.00" in problem.message


def test_eu_flat_duty_per_tariff_heading_applies_from_july_2026():
    lines = ((1, "650100", 1, "100.00"), (2, "650100", 1, "100.00"), (3, "420221", 1, "100.00"))
    before = quote("DE", lines=lines, method="eu-tracked", on=date(2026, 6, 30))
    after = quote("DE", lines=lines, method="eu-tracked", on=date(2026, 7, 1))
    assert before.duty == 0
    assert after.duty == D("46.80")  # 2 sub-headings x 3 EUR x 7.8


def test_no_regime_no_delivery():
    cost = quote("US")
    assert [p.code for p in cost.problems] == ["destination"]
    assert "US" in cost.problems[0].message


def test_a_shipping_method_of_another_regime_is_not_accepted():
    cost = quote("DE", method="cn-bonded")
    assert [p.code for p in cost.problems] == ["no_method"]


def test_rates_are_effective_dated_rows():
    rule = RegimeRule.objects.get(regime__code="cn_cbec")
    TaxRate.objects.create(
        regime=rule.regime, hs_prefix="6501", vat_rate=D("0.09"), effective_from=date(2030, 1, 1)
    )
    assert quote(on=date(2029, 12, 31)).tax == D("10.74")
    assert quote(on=date(2030, 1, 1)).tax == D("7.43")  # 9% x 0.7 of 118.00


def test_an_hs_code_no_rate_covers_cannot_be_sold():
    TaxRate.objects.filter(regime__code="cn_cbec", hs_prefix="").update(
        effective_to=date(2020, 1, 1)
    )
    cost = quote()
    assert [p.code for p in cost.problems] == ["no_rate"]
