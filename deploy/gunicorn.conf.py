"""gunicorn settings for either product in production: ``gunicorn -c deploy/gunicorn.conf.py "app:create_libeo_app()"``.

Behind a buffering reverse proxy (``deploy/nginx.conf``), which alone faces the
Internet: it reads each request whole, however slowly a client sends it, and
only then hands it to gunicorn over the loopback. gunicorn itself listens on
127.0.0.1 only.

Why threads (``gthread``) rather than gunicorn's default sync workers: a sync
worker belongs to one connection from its first byte to its last, so four slow
clients (a phone on a bad network, or twelve « slowloris » connections that
send a header line now and then) took a four-worker server down. A gthread
worker keeps idle and kept-alive connections on a poller, not on a thread, and
serves a request on one of its threads once the client has sent something.
Its threads still wait for a client that trickles its headers: that client is
the proxy's to hold (``client_header_timeout``), never gunicorn's.

Every value can be set from the environment (``GUNICORN_WORKERS``…).
"""

import os

# Loopback only: the proxy forwards to it, and TRUSTED_PROXIES=1 trusts that one hop's X-Forwarded-* headers.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = "gthread"
# One process per CPU, a few threads each: requests mostly wait on the database and on the other product.
workers = int(os.environ.get("GUNICORN_WORKERS", os.cpu_count() or 2))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Connections a worker keeps at once (served, kept alive, or waiting for their first bytes on its poller).
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
# Seconds an idle kept-alive connection is kept: longer than nothing (the proxy reuses its connections to
# gunicorn), shorter than the proxy's own upstream keep-alive, so that gunicorn never closes one the proxy
# is about to use.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# A worker that stops answering its arbiter for this long is replaced; a stopping one finishes its requests.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
# Request line and headers: gunicorn's limits, written down (the proxy's are the same or smaller).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
# The app reads X-Forwarded-* itself (TRUSTED_PROXIES): gunicorn need not.
forwarded_allow_ips = "127.0.0.1"
# Files gunicorn itself creates (its control socket, a worker's heartbeat file): owner only, like the app's.
umask = 0o077
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"


def child_exit(server, worker):
    """A worker gone, its live gauges go with it (prometheus_client's multiprocess mode, README « Operations »)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
