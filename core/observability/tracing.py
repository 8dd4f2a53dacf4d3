"""Optional tracing with OpenTelemetry, only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

Without the variable nothing of OpenTelemetry is imported. With it, each
product's Flask requests, its outgoing ``requests`` calls and its SQLAlchemy
statements become spans exported over OTLP/HTTP; the ``traceparent`` header
MEG's calls carry makes Libeo's spans children of MEG's, so one « Payer » is
one trace across both products (in the combined run as deployed apart).
The exporter reads the usual ``OTEL_*`` variables (endpoint, headers,
``OTEL_SERVICE_NAME``; by default the service is named after the product).
"""

from __future__ import annotations

import os
import threading

from flask import Flask

from core.observability.context import current_request_id

_started = False
_starting = threading.Lock()
# The service's name when one process serves both products (the combined run).
_process_name: str | None = None


def name_process(name: str) -> None:
    """Names the service of every span of this process (unless ``OTEL_SERVICE_NAME`` does)."""
    global _process_name
    _process_name = name


def tracing_wanted() -> bool:
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def init_tracing(app: Flask, product: str) -> bool:
    """Instruments ``app`` (before its database engine is created); False when tracing is off."""
    if not tracing_wanted():
        return False
    _start(product)
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    def request_hook(span, environ) -> None:
        request_id = current_request_id()
        if span is not None and span.is_recording() and request_id:
            span.set_attribute("http.request.header.x_request_id", request_id)

    FlaskInstrumentor.instrument_app(app, request_hook=request_hook, enable_commenter=False)
    return True


def _start(product: str) -> None:
    """The process's tracer provider and the library instrumentations, once."""
    global _started
    with _starting:
        if _started:
            return
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.requests import RequestsInstrumentor
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": _process_name or product}
        provider = TracerProvider(resource=Resource.create(attributes))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        RequestsInstrumentor().instrument()
        # Engines created from now on are traced (each product creates its own in its factory).
        SQLAlchemyInstrumentor().instrument()
        _started = True
