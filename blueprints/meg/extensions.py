"""The MEG app's extension singletons, created once, bound in the factory (``core.app_factory``)."""

from core.app_factory import product_extensions

EXTENSIONS = product_extensions("meg")
login_manager, csrf, limiter, mail = EXTENSIONS
