"""Recorded exams (录制考试): sittings, takes, the deadline and its sweep (docs/recorded.md)."""
