"""Absolute addresses on a product's configured public host."""

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, url_for


def public_url(endpoint: str, **values) -> str:
    """``url_for`` under PUBLIC_URL, whatever host name the request came in by.

    ``url_for`` gives the path under the app's mount point (``/meg`` or
    ``/libeo`` in the combined run, ``/`` when a product runs alone); the
    host comes from configuration, so links handed to the other product, to
    OAuth clients or to Stripe stay right behind a proxy.
    """
    return current_app.config["PUBLIC_URL"].rstrip("/") + url_for(endpoint, **values)


def public_base(app: Flask) -> str:
    """The product's public address: PUBLIC_URL, and its mount point in the combined run (``MOUNTED_AT``)."""
    return app.config["PUBLIC_URL"].rstrip("/") + app.config.get("MOUNTED_AT", "")


@contextmanager
def public_links(app: Flask) -> Iterator[None]:
    """``url_for`` and ``public_url`` outside any request (a worker writing e-mails): on the public address."""
    with app.test_request_context(base_url=public_base(app) + "/"):
        yield
