"""Face detection, alignment, embedding, liveness, decisions and manual review (the face-check issue)."""
