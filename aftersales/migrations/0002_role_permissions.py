from django.db import migrations

from accounts.roles import sync_role_permissions


class Migration(migrations.Migration):
    """Merchant staff, customer service and platform admins get their survey permissions."""

    dependencies = [
        ("aftersales", "0001_initial"),
        ("accounts", "0002_roles"),
        ("orders", "0002_role_permissions"),
    ]

    operations = [migrations.RunPython(sync_role_permissions, migrations.RunPython.noop)]
