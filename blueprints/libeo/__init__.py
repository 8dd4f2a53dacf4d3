"""Libeo: the supplier-payment platform, as a Flask app."""
