"""Slot booking: capacity, booking window and one booking per subject, enforced in one Lua script."""
