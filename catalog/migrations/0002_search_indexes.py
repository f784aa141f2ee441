"""PostgreSQL-only: a GIN index for full-text search and trigram indexes for CJK substring search.

SQLite (the `make run` default) searches with LIKE and gets none of these.
"""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS product_search_gin ON catalog_product USING gin (search_vector)",
    "CREATE INDEX IF NOT EXISTS product_name_trgm ON catalog_product USING gin (UPPER(name) gin_trgm_ops)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS product_name_trgm",
    "DROP INDEX IF EXISTS product_search_gin",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in FORWARD:
            schema_editor.execute(sql)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in BACKWARD:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
