"""Marking (评分, docs/marking.md): subjects' rubrics (``rubrics.py``), live interviews' mark sheets
(``interview_marks.py``) and recorded takes' blind double marking (``take_marks.py``)."""
