"""Side-neutral building blocks used by both products.

Nothing here knows MEG or Libeo: money, validators, HTTP transport, security
helpers. Each product imports from here, never from the other product.
"""
