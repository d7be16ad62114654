"""The school's candidate roster: ID numbers, names, subjects and ID photos."""
