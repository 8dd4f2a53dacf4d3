"""What an operator watches: health, metrics, request ids, structured logs, optional traces.

``init_observability`` is one step of each product's factory, taken first so
that its request id and its count wrap everything else the product does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Flask, Response, current_app, request
from flask.logging import default_handler
from flask_sqlalchemy import SQLAlchemy

from core.observability.health import PeerCheck, health_blueprint
from core.observability.logs import configure_logging
from core.observability.metrics import CONTENT_TYPE, Reading, exposition, may_read_metrics
from core.observability.middleware import CONTEXT_KEY, ObservedApp
from core.observability.tracing import init_tracing

METRICS_REFUSED = ("Accès aux métriques refusé : elles sont servies à l'adresse locale (127.0.0.1), "
                   "ou avec l'en-tête « Authorization: Bearer » du jeton METRICS_TOKEN.\n")


def init_observability(
    app: Flask,
    *,
    product: str,
    db: SQLAlchemy,
    gauges: Callable[[], Iterable[Reading]] | None = None,
    peer: PeerCheck | None = None,
) -> None:
    """Request ids, request metrics and log lines for every request; ``/healthz``, ``/readyz``, ``/metrics``.

    ``gauges`` reads the product's gauges from its database; ``peer`` asks
    whether the other product answers (reported by ``/readyz``, never failing it).
    """
    configure_logging(app.config.get("LOG_FORMAT"), app.config.get("LOG_LEVEL"))
    app.logger.removeHandler(default_handler)  # the root logger's handler writes every line
    init_tracing(app, product)
    behind_proxy = int(app.config.get("TRUSTED_PROXIES") or 0) > 0
    peer_paths = tuple(app.config.get("PEER_PATHS") or ())

    def trusts(path: str) -> bool:
        return behind_proxy or path.startswith(peer_paths)

    app.wsgi_app = ObservedApp(app.wsgi_app, product=product, trusts=trusts)

    @app.before_request
    def name_the_route() -> None:
        context = request.environ.get(CONTEXT_KEY)
        if context is not None:
            context.route = request.endpoint

    bp = health_blueprint(product, db, upgrade_command=f"flask --app app {product} db upgrade", peer=peer)

    @bp.get("/metrics")
    def metrics():
        if not may_read_metrics(request, current_app.config.get("METRICS_TOKEN")):
            return Response(METRICS_REFUSED, 403, mimetype="text/plain")
        return Response(exposition(product, gauges), content_type=CONTENT_TYPE)

    app.register_blueprint(bp)
