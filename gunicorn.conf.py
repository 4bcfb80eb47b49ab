"""gunicorn settings for the API (used by the Procfile)."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
# Load the app, and so the model, once in the master; workers share it copy-on-write, and a
# server whose model cannot be loaded exits at start with the reason instead of failing requests.
preload_app = True
# A full batch (100 postings of 20,000 characters) scores in a few seconds on one core.
timeout = 30
graceful_timeout = 30
keepalive = 5
accesslog = "-"
errorlog = "-"
