"""Sources of documentation → passages and symbols (see docs/INGEST.md)."""
