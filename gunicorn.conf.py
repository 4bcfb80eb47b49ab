"""gunicorn settings for the API (used by the Procfile)."""

import os
import shutil
import tempfile
from pathlib import Path

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Scoring is CPU-bound Python: one process per core does the work, and more only queue for the
# same cores (measured in the README's benchmark section).
workers = int(os.environ.get("WEB_CONCURRENCY", str(len(os.sched_getaffinity(0)))))
# gthread rather than sync: it keeps connections alive between requests (sync closes every
# one, and clients reconnect for each posting), and its poller holds connections that are slow
# to send their headers instead of handing each a worker (8 such connections stop a sync
# server). The threads of a worker share its core: they overlap reading and writing sockets
# with scoring, not scoring with scoring.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Load the app, and so the model, once in the master; workers share it copy-on-write, and a
# server whose model cannot be loaded exits at start with the reason instead of failing requests.
preload_app = True
# A full batch (100 postings of 20,000 characters) scores in a few seconds on one core.
timeout = 30
graceful_timeout = 30
keepalive = 5
# gunicorn's control socket is one path per user: servers started side by side (tests, bench)
# would take it from each other. Nothing here uses it.
control_socket_disable = True
# The app writes its own JSON access log on stdout (api/observability.py); gunicorn's would
# repeat every line in another format.
accesslog = None
errorlog = "-"

# Prometheus metrics summed over the workers (api/observability.py): every process writes its
# samples to files in this directory, read back by /metrics. It must be set before the app, and
# so prometheus_client, is imported, and must start empty.
_created_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _created_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="exposure-metrics-")
else:
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
    for stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory if this configuration created it."""
    if _created_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
