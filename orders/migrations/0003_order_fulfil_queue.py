from django.db import migrations, models


class Migration(migrations.Migration):
    """The pick station's queue (paid orders still to pick or pack, the longest-waiting first) is
    read from a partial index instead of sorting every open order (make bench, fulfilment)."""

    dependencies = [("orders", "0002_role_permissions")]

    operations = [
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                condition=models.Q(("status__in", ["allocated", "paid", "partially_refunded"])),
                fields=["paid_at", "id"],
                name="order_fulfil_queue",
            ),
        ),
    ]
