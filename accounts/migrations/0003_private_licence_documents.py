import accounts.models
import core.storage
from django.db import migrations, models


def move_documents(apps, schema_editor):
    Merchant = apps.get_model("accounts", "Merchant")
    names = Merchant.objects.exclude(licence_document="").values_list("licence_document", flat=True)
    core.storage.move_to_private(list(names))


class Migration(migrations.Migration):
    """Licence documents leave the public media folder (anyone with the URL could read them)."""

    dependencies = [("accounts", "0002_roles")]

    operations = [
        migrations.AlterField(
            model_name="merchant",
            name="licence_document",
            field=models.FileField(
                storage=core.storage.PrivateStorage(),
                upload_to=accounts.models.licence_upload_to,
                verbose_name="licence document",
            ),
        ),
        migrations.RunPython(move_documents, migrations.RunPython.noop),
    ]
