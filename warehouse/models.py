"""Models of the warehouse app arrive with the issue that builds it (see docs/architecture.md)."""
