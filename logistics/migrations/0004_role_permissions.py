from django.db import migrations

from accounts.roles import sync_role_permissions


class Migration(migrations.Migration):
    """Customer service and platform admins read shipments, tracking and customs declarations."""

    dependencies = [
        ("logistics", "0003_carriers_tracking_customs"),
        ("warehouse", "0004_outbound_parcels"),
        ("orders", "0002_role_permissions"),
    ]

    operations = [migrations.RunPython(sync_role_permissions, migrations.RunPython.noop)]
