"""Models of the warehouse app arrive with the issue that builds it (docs/architecture.md)."""
