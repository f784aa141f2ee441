"""Default locations of the warehouse, and (PostgreSQL) a trigger that makes the ledger append-only."""

from django.db import migrations

LOCATIONS = [
    ("RCV-01", "Receiving dock", "receiving", 10),
    ("APR-01", "Appraisal bench", "appraisal", 20),
    *[(f"STK-A{n:02d}", f"Stock aisle A, bin {n}", "stock", 30 + n) for n in range(1, 9)],
    ("PCK-01", "Packing station", "packing", 60),
    ("QRN-01", "Returns quarantine", "quarantine", 70),
    ("REJ-01", "Rejected goods cage", "rejected", 80),
    ("SCR-01", "Scrap and write-off", "scrap", 90),
    ("OUT-01", "Left the warehouse", "outbound", 100),
]

GUARD = """
CREATE OR REPLACE FUNCTION warehouse_movement_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'warehouse_unitmovement is append-only: record a new movement instead';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER warehouse_movement_no_update BEFORE UPDATE OR DELETE ON warehouse_unitmovement
    FOR EACH ROW EXECUTE FUNCTION warehouse_movement_immutable();
"""
UNGUARD = """
DROP TRIGGER IF EXISTS warehouse_movement_no_update ON warehouse_unitmovement;
DROP FUNCTION IF EXISTS warehouse_movement_immutable();
"""


def create_locations(apps, schema_editor):
    location = apps.get_model("warehouse", "Location")
    for code, name, usage, position in LOCATIONS:
        location.objects.get_or_create(
            code=code, defaults={"name": name, "usage": usage, "position": position}
        )


def guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD)


def unguard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNGUARD)


class Migration(migrations.Migration):
    dependencies = [("warehouse", "0001_initial")]
    operations = [
        migrations.RunPython(create_locations, migrations.RunPython.noop),
        migrations.RunPython(guard, unguard),
    ]
