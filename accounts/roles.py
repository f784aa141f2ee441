"""Platform roles are auth Groups; which model permissions each carries is data, kept here."""

from typing import Any

MERCHANT = "merchant"
WAREHOUSE = "warehouse"
APPRAISER = "appraiser"
CUSTOMER_SERVICE = "customer_service"
PLATFORM_ADMIN = "platform_admin"
ALL_ROLES = (MERCHANT, WAREHOUSE, APPRAISER, CUSTOMER_SERVICE, PLATFORM_ADMIN)
# Roles whose members work in /admin/ (is_staff); warehouse and appraisers use their stations.
STAFF_ROLES = (MERCHANT, CUSTOMER_SERVICE, PLATFORM_ADMIN)

# (app_label, model, actions). Later issues append their models here and ship a migration
# that calls `sync_role_permissions` again.
ROLE_PERMISSIONS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    MERCHANT: [
        ("catalog", "product", ("add", "change", "delete", "view")),
        ("catalog", "productimage", ("add", "change", "delete", "view")),
        ("catalog", "category", ("view",)),
    ],
    WAREHOUSE: [
        ("catalog", "product", ("view",)),
    ],
    APPRAISER: [
        ("catalog", "product", ("view",)),
        ("catalog", "category", ("view",)),
    ],
    CUSTOMER_SERVICE: [
        ("catalog", "product", ("view",)),
        ("accounts", "buyerprofile", ("view",)),
        ("accounts", "merchant", ("view",)),
    ],
    PLATFORM_ADMIN: [
        ("catalog", "product", ("add", "change", "delete", "view")),
        ("catalog", "productimage", ("add", "change", "delete", "view")),
        ("catalog", "category", ("add", "change", "delete", "view")),
        ("accounts", "merchant", ("change", "view")),
        ("accounts", "merchantevent", ("view",)),
        ("accounts", "buyerprofile", ("view",)),
        ("accounts", "user", ("view", "change")),
    ],
}


# Authenticity: merchant staff read the verdicts, evidence and dispositions of their own units
# (the admin scopes them) and their disposition policy; appraisers read checklists and cases;
# platform admins keep the checklists and the policies. Cases and dispositions are records that
# nobody edits in the admin.
_AUTHENTICITY_PERMISSIONS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    MERCHANT: [
        ("authenticity", "appraisalcase", ("view",)),
        ("authenticity", "appraisal", ("view",)),
        ("authenticity", "appraisalphoto", ("view",)),
        ("authenticity", "unitdisposition", ("view",)),
        ("authenticity", "dispositionpolicy", ("view",)),
    ],
    APPRAISER: [
        ("authenticity", "checklisttemplate", ("view",)),
        ("authenticity", "checklistitem", ("view",)),
        ("authenticity", "appraisalcase", ("view",)),
    ],
    PLATFORM_ADMIN: [
        ("authenticity", "checklisttemplate", ("add", "change", "delete", "view")),
        ("authenticity", "checklistitem", ("add", "change", "delete", "view")),
        ("authenticity", "dispositionpolicy", ("add", "change", "view")),
        ("authenticity", "appraisalcase", ("view",)),
        ("authenticity", "appraisal", ("view",)),
        ("authenticity", "appraisalphoto", ("view",)),
        ("authenticity", "unitdisposition", ("view",)),
        ("authenticity", "verificationcheck", ("view",)),
    ],
}
for _role, _entries in _AUTHENTICITY_PERMISSIONS.items():
    ROLE_PERMISSIONS[_role].extend(_entries)

# Warehouse: merchant staff announce their inbound shipments and follow their units, stock and
# out-of-stock records (the admin scopes them to their merchant), and set reorder points;
# warehouse clerks work at the stations and may read the same records; platform admins also
# keep the locations. Units, movements and discrepancies are records nobody edits.
_WAREHOUSE_PERMISSIONS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    MERCHANT: [
        ("warehouse", "inboundshipment", ("add", "change", "view")),
        ("warehouse", "inboundline", ("add", "change", "delete", "view")),
        ("warehouse", "inbounddiscrepancy", ("view",)),
        ("warehouse", "stockunit", ("view",)),
        ("warehouse", "unitmovement", ("view",)),
        ("warehouse", "productstock", ("change", "view")),
        ("warehouse", "outofstockrecord", ("view",)),
    ],
    WAREHOUSE: [
        ("warehouse", "location", ("view",)),
        ("warehouse", "inboundshipment", ("view",)),
        ("warehouse", "inboundline", ("view",)),
        ("warehouse", "inbounddiscrepancy", ("view",)),
        ("warehouse", "receipt", ("view",)),
        ("warehouse", "stockunit", ("view",)),
        ("warehouse", "unitmovement", ("view",)),
        ("warehouse", "productstock", ("view",)),
        ("warehouse", "outofstockrecord", ("view",)),
        ("warehouse", "stockcount", ("view",)),
    ],
    PLATFORM_ADMIN: [
        ("warehouse", "inboundshipment", ("add", "change", "view")),
        ("warehouse", "inboundline", ("add", "change", "delete", "view")),
        ("warehouse", "inbounddiscrepancy", ("view",)),
        ("warehouse", "stockunit", ("view",)),
        ("warehouse", "unitmovement", ("view",)),
        ("warehouse", "productstock", ("change", "view")),
        ("warehouse", "outofstockrecord", ("view",)),
        ("warehouse", "location", ("add", "change", "view")),
    ],
}
for _role, _entries in _WAREHOUSE_PERMISSIONS.items():
    ROLE_PERMISSIONS[_role].extend(_entries)

# Orders: merchant staff read and process their own order lines (the admin scopes them) and see
# who waits for their products; customer service reads orders, payments and refunds; platform
# admins also keep the cross-border rules, tax rates and shipping methods. Payments, callbacks
# and refunds are records nobody edits.
_ORDER_PERMISSIONS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    MERCHANT: [
        ("orders", "orderline", ("view",)),
        ("orders", "stocknotice", ("view",)),
    ],
    CUSTOMER_SERVICE: [
        ("orders", "order", ("view",)),
        ("orders", "orderline", ("view",)),
        ("orders", "payment", ("view",)),
        ("orders", "refund", ("view",)),
        ("logistics", "shipment", ("view",)),
        ("logistics", "customsdeclaration", ("view",)),
    ],
    PLATFORM_ADMIN: [
        ("orders", "order", ("view",)),
        ("orders", "orderline", ("view",)),
        ("orders", "payment", ("view",)),
        ("orders", "paymentcallback", ("view",)),
        ("orders", "refund", ("view",)),
        ("orders", "stocknotice", ("view",)),
        ("logistics", "customsregime", ("add", "change", "view")),
        ("logistics", "regimerule", ("add", "change", "view")),
        ("logistics", "taxrate", ("add", "change", "view")),
        ("logistics", "shippingmethod", ("add", "change", "view")),
        ("logistics", "shipment", ("view",)),
        ("logistics", "customsdeclaration", ("view",)),
        ("warehouse", "parcel", ("view",)),
    ],
}
for _role, _entries in _ORDER_PERMISSIONS.items():
    ROLE_PERMISSIONS[_role].extend(_entries)

# Surveys (aftersales): merchant staff keep the survey questions of their products and read (and
# reply to) their ratings; customer service and platform admins read everything and may hide an
# abusive text with a reason. Invitations and ratings are records nobody deletes.
_SURVEY_PERMISSIONS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    MERCHANT: [
        ("aftersales", "surveyquestion", ("add", "change", "view")),
        ("aftersales", "surveyresponse", ("change", "view")),
        ("aftersales", "surveyinvitation", ("view",)),
    ],
    CUSTOMER_SERVICE: [
        ("aftersales", "surveyresponse", ("change", "view")),
        ("aftersales", "surveyinvitation", ("view",)),
    ],
    PLATFORM_ADMIN: [
        ("aftersales", "surveyquestion", ("add", "change", "view")),
        ("aftersales", "surveyresponse", ("change", "view")),
        ("aftersales", "surveyinvitation", ("view",)),
    ],
}
for _role, _entries in _SURVEY_PERMISSIONS.items():
    ROLE_PERMISSIONS[_role].extend(_entries)


def sync_role_permissions(apps: Any, schema_editor: Any = None) -> None:
    """Create the role groups and set their permissions; safe to run again (migrations call it)."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; roles need them now.
    for app_config in apps.get_app_configs():
        previous = getattr(app_config, "models_module", None)
        app_config.models_module = previous or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = previous
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role in ALL_ROLES:
        group, _created = group_model.objects.get_or_create(name=role)
        wanted = []
        for app_label, model, actions in ROLE_PERMISSIONS.get(role, []):
            codenames = [f"{action}_{model}" for action in actions]
            wanted.extend(
                permission_model.objects.filter(
                    content_type__app_label=app_label, codename__in=codenames
                )
            )
        group.permissions.set(wanted)
