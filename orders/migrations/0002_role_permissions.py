from django.db import migrations

from accounts.roles import sync_role_permissions


class Migration(migrations.Migration):
    """Merchant staff, customer service and platform admins get their order permissions."""

    dependencies = [
        ("orders", "0001_initial"),
        ("logistics", "0002_cross_border_rules"),
        ("warehouse", "0003_role_permissions"),
    ]

    operations = [migrations.RunPython(sync_role_permissions, migrations.RunPython.noop)]
