"""Models of the core app arrive with the issue that builds it (see docs/architecture.md)."""
