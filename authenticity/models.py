"""Models of the authenticity app arrive with the issue that builds it (docs/architecture.md)."""
