"""The benchmark of the performance budgets (README « Benchmark »): ``python -m bench`` (``make bench``).

Seeds both databases in bulk, serves the combined app under gunicorn on
127.0.0.1, drives load from a separate process and prints one table per data
size: requests per second, latency percentiles, SQL queries per request and
the cost relative to a trivial ``hello`` route of the same app.
"""
