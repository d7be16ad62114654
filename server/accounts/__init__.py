"""Accounts of every role, passwords, sessions, login rate limits and identity verification."""
