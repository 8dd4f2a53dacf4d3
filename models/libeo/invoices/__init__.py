"""Libeo's invoices and their documents."""
