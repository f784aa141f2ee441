from django.db import migrations

from accounts.roles import sync_role_permissions


class Migration(migrations.Migration):
    """Merchant staff, appraisers and platform admins get their authenticity permissions."""

    dependencies = [
        ("authenticity", "0001_initial"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(sync_role_permissions, migrations.RunPython.noop)]
