"""Libeo accounts, users, plans and API keys."""
