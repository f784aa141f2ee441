from datetime import date
from decimal import Decimal as D

from django.db import migrations

# EU standard VAT rates in force on 2026-11-23 (platform staff keep them current in the admin).
EU_VAT = {
    "AT": "0.20", "BE": "0.21", "BG": "0.20", "HR": "0.25", "CY": "0.19", "CZ": "0.21",
    "DK": "0.25", "EE": "0.24", "FI": "0.255", "FR": "0.20", "DE": "0.19", "GR": "0.24",
    "HU": "0.27", "IE": "0.23", "IT": "0.22", "LV": "0.21", "LT": "0.21", "LU": "0.17",
    "MT": "0.18", "NL": "0.21", "PL": "0.23", "PT": "0.23", "RO": "0.21", "SK": "0.23",
    "SI": "0.22", "ES": "0.21", "SE": "0.25",
}  # fmt: skip

# China cross-border retail import (财关税〔2016〕18号, 〔2018〕49号): VAT 13% (9% for books and
# some foods), consumption tax for cosmetics (15%), spirits (20%), wine (10%), high-end watches
# (20%); MFN tariffs apply only to full-tax (single-item exception) orders.
CN_RATES = [
    ("", "General goods", "0.13", "0", "0.10"),
    ("49", "Books and printed matter", "0.09", "0", "0"),
    ("1509", "Olive oil", "0.09", "0", "0.10"),
    ("3303", "Perfumes (high-end)", "0.13", "0.15", "0.03"),
    ("3304", "Cosmetics (high-end)", "0.13", "0.15", "0.05"),
    ("2204", "Wine", "0.13", "0.10", "0.14"),
    ("2208", "Spirits", "0.13", "0.20", "0.05"),
    ("9101", "Watches (high-end)", "0.13", "0.20", "0.08"),
]


def seed(apps, schema_editor):
    Regime = apps.get_model("logistics", "CustomsRegime")
    Rule = apps.get_model("logistics", "RegimeRule")
    Rate = apps.get_model("logistics", "TaxRate")
    Method = apps.get_model("logistics", "ShippingMethod")
    cn, _ = Regime.objects.get_or_create(
        code="cn_cbec",
        defaults={
            "name": "China cross-border retail import",
            "name_zh": "跨境电商零售进口",
            "currency": "CNY",
            "destinations": "CN",
            "requires_orderer_identity": True,
            "requires_risk_notice": True,
        },
    )
    Rule.objects.get_or_create(
        regime=cn,
        effective_from=date(2019, 1, 1),
        defaults={
            "per_order_limit": D("5000"),
            "per_order_basis": "goods_freight",
            "annual_limit": D("26000"),
            "single_item_exception": True,
            "tax_factor": D("0.7"),
            "tax_on_freight": True,
        },
    )
    for prefix, description, vat, ct, tariff in CN_RATES:
        Rate.objects.get_or_create(
            regime=cn,
            hs_prefix=prefix,
            destination="",
            effective_from=date(2019, 1, 1),
            defaults={
                "description": description,
                "vat_rate": D(vat),
                "consumption_tax_rate": D(ct),
                "tariff_rate": D(tariff),
            },
        )
    eu, _ = Regime.objects.get_or_create(
        code="eu_ioss",
        defaults={
            "name": "EU Import One-Stop Shop (IOSS)",
            "name_zh": "欧盟进口一站式申报 (IOSS)",
            "currency": "EUR",
            "destinations": ",".join(sorted(EU_VAT)),
        },
    )
    # Consignments up to 150 EUR intrinsic value; destination VAT collected at checkout. From
    # 2026-07-01 a flat 3 EUR duty per HS sub-heading in the parcel (Council, 2026-02-11).
    for start, end, duty in (
        (date(2021, 7, 1), date(2026, 6, 30), D("0")),
        (date(2026, 7, 1), date(2028, 6, 30), D("3.00")),
    ):
        Rule.objects.get_or_create(
            regime=eu,
            effective_from=start,
            defaults={
                "effective_to": end,
                "per_order_limit": D("150"),
                "per_order_basis": "goods",
                "tax_factor": D("1"),
                "tax_on_freight": True,
                "duty_per_tariff_heading": duty,
            },
        )
    for country, vat in EU_VAT.items():
        Rate.objects.get_or_create(
            regime=eu,
            hs_prefix="",
            destination=country,
            effective_from=date(2021, 7, 1),
            defaults={"description": f"{country} standard VAT", "vat_rate": D(vat)},
        )
    for position, (code, name, name_zh, regime, base, per_kg, low, high) in enumerate(
        (
            ("cn-bonded", "Bonded express", "保税仓直发", cn, "12", "6", 2, 4),
            ("cn-direct", "Direct mail, tracked", "海外直邮", cn, "35", "20", 7, 15),
            ("eu-tracked", "EU tracked parcel", "欧盟挂号包裹", eu, "88", "40", 7, 12),
        )
    ):
        Method.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "name_zh": name_zh,
                "regime": regime,
                "base_price_cny": D(base),
                "per_kg_cny": D(per_kg),
                "days_min": low,
                "days_max": high,
                "position": position,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("logistics", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
