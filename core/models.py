"""Models of the core app arrive with the issue that builds it (docs/architecture.md)."""
