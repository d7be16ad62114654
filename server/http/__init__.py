"""HTTP: middlewares, role-checked routes, JSON API handlers and server-rendered pages."""
