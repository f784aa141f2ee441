"""Models of the orders app arrive with the issue that builds it (docs/architecture.md)."""
