"""Lab runners: one per app, each driving its app through the Python API (never its CLI)."""
