"""Models of the push app arrive with the issue that builds it (docs/architecture.md)."""
