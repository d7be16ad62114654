"""The Redis-backed waiting queue: order, positions, reminders, admission (the queue issue)."""
