"""Models of the aftersales app arrive with the issue that builds it (see docs/architecture.md)."""
