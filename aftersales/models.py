"""Models of the aftersales app arrive with the issue that builds it (docs/architecture.md)."""
