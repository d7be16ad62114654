"""socket.io namespaces per role, auth on connect, WebRTC offer/answer/ICE (the queue issue)."""
