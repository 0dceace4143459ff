"""IR -> instructions -> `.vitb`: the backend (see docs/architecture.md)."""
