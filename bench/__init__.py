"""Benchmarks that print figures; each ends with one line of JSON (see CONTRIBUTING.md)."""
