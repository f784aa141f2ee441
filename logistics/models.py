"""Models of the logistics app arrive with the issue that builds it (see docs/architecture.md)."""
