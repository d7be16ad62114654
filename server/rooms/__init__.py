"""Interview rooms: aiortc peers, forwarding, recording, in-room checks (the rooms issue)."""
