from django.db import migrations

from accounts.roles import sync_role_permissions


class Migration(migrations.Migration):
    """Merchant staff, warehouse clerks and platform admins get their warehouse permissions."""

    dependencies = [
        ("warehouse", "0002_locations_and_ledger_guard"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(sync_role_permissions, migrations.RunPython.noop)]
