import authenticity.models
import core.storage
from django.db import migrations, models


def move_photos(apps, schema_editor):
    AppraisalPhoto = apps.get_model("authenticity", "AppraisalPhoto")
    names = []
    for image, thumbnail in AppraisalPhoto.objects.values_list("image", "thumbnail"):
        names += [image, thumbnail]
    core.storage.move_to_private(names)


class Migration(migrations.Migration):
    """Evidence photos leave the public media folder (anyone with the URL could see them)."""

    dependencies = [("authenticity", "0002_role_permissions")]

    operations = [
        migrations.AlterField(
            model_name="appraisalphoto",
            name="image",
            field=models.ImageField(
                storage=core.storage.PrivateStorage(), upload_to=authenticity.models.photo_upload_to
            ),
        ),
        migrations.AlterField(
            model_name="appraisalphoto",
            name="thumbnail",
            field=models.ImageField(
                storage=core.storage.PrivateStorage(), upload_to=authenticity.models.photo_upload_to
            ),
        ),
        migrations.RunPython(move_photos, migrations.RunPython.noop),
    ]
