"""Absolute addresses on a product's configured public host."""

from flask import current_app, url_for


def public_url(endpoint: str, **values) -> str:
    """``url_for`` under PUBLIC_URL, whatever host name the request came in by.

    ``url_for`` gives the path under the app's mount point (``/meg`` or
    ``/libeo`` in the combined run, ``/`` when a product runs alone); the
    host comes from configuration, so links handed to the other product, to
    OAuth clients or to Stripe stay right behind a proxy.
    """
    return current_app.config["PUBLIC_URL"].rstrip("/") + url_for(endpoint, **values)
