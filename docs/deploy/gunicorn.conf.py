"""Gunicorn settings for apflow's web processes on PostgreSQL (docs/operations.md, "Several web processes").

    gunicorn --config /etc/apflow/gunicorn.conf.py

Processes and threads come from the environment (the systemd unit's EnvironmentFile), so one file serves every
machine: APFLOW_WEB_PROCESSES (default 2), APFLOW_WEB_THREADS (default 8), APFLOW_BIND (default 127.0.0.1:8000).
bench/scaleout.py starts the web processes with this very file, so the measured set-up is the documented one.
"""
import os

from apflow.logs import setup_logging

# The app is built in each process after the fork (no preload): each process opens its own database pool and
# starts its own engine worker processes; nothing is shared between web processes but the database.
wsgi_app = "apflow.web:create_app()"
preload_app = False

bind = os.environ.get("APFLOW_BIND", "127.0.0.1:8000")  # only the reverse proxy on this machine reaches it
workers = int(os.environ.get("APFLOW_WEB_PROCESSES", "2"))  # about one per core: Python runs one thread at a time
threads = int(os.environ.get("APFLOW_WEB_THREADS", "8"))  # requests mostly wait on PostgreSQL; the pool holds 10
worker_class = "gthread"  # threads per process, as waitress in `apflow serve`; keep-alive connections are kept

# A request that takes longer than this is stuck (the database has its own limit, APFLOW_DB_STATEMENT_TIMEOUT=30):
# the process is replaced. Printing a large evidence pack is the slowest ordinary request, a few seconds.
timeout = 60
graceful_timeout = 30  # on stop or reload, requests in flight get this long to finish
keepalive = 75  # seconds an idle connection from the proxy stays open (longer than nginx's keepalive_timeout 60 s)
control_socket_disable = True  # gunicorn 25.1+: systemd manages the processes, and the unit may not write to $HOME

# Logging as every `apflow` command does it (APFLOW_LOG_LEVEL, WARNING by default: SpiffWorkflow's INFO line per
# task state change would halve a step's speed); gunicorn's own error log goes to the journal too.
setup_logging()
errorlog = "-"
accesslog = None  # the proxy keeps the access log


def post_worker_init(worker):
    """Start the engine's worker processes now, not on the first person's step, and settle the heap (as `apflow serve`
    does)."""
    from apflow.web import settle_heap

    worker.wsgi.extensions["apflow"].steps.warm_up()
    settle_heap()
