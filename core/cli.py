"""Command groups that run in one product's app context.

``flask --app app meg …`` and ``flask --app app libeo …`` are served by the
combined app, whose own context is neither product's; deployed alone
(``flask --app "app:create_meg_app()" meg …``) the loaded app is the product.
Either way every command of the group, nested groups included (``meg db
upgrade``), runs inside the product's app context.
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup, ScriptInfo


class ProductGroup(AppGroup):
    def __init__(self, name: str, *, side: str, **kwargs) -> None:
        super().__init__(name, **kwargs)
        self.side = side

    def invoke(self, ctx: click.Context):
        with product_app(ctx, self.side).app_context():
            return super().invoke(ctx)


def product_app(ctx: click.Context, side: str) -> Flask:
    loaded = current_app._get_current_object() if current_app else ctx.ensure_object(ScriptInfo).load_app()  # type: ignore[attr-defined]  # a LocalProxy
    return loaded.extensions.get("sides", {}).get(side, loaded)
