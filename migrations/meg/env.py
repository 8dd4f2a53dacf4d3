"""Alembic's entry point for this product's history: the steps live in core.migrations."""

from core.migrations import run_alembic_environment

run_alembic_environment()
