"""Exams, their subjects, interview rooms (examiner panels) and bookable time slots."""
