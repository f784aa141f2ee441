"""`make bench`: load benchmarks of the storefront against PostgreSQL, Redis and gunicorn."""
