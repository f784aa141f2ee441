"""Models of the authenticity app arrive with the issue that builds it (see docs/architecture.md)."""
