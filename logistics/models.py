"""Models of the logistics app arrive with the issue that builds it (docs/architecture.md)."""
