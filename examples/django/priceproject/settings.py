"""Minimal settings: one app (prices), no database, plain-text logging of binance_conn."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["prices.apps.PricesConfig"]
MIDDLEWARE: list = []
ROOT_URLCONF = "priceproject.urls"
WSGI_APPLICATION = "priceproject.wsgi.application"
DATABASES: dict = {}  # the example needs none (runserver then skips its migration check)
USE_TZ = True
TIME_ZONE = "UTC"

# binance_conn logs under "binance_conn.*" and is silent until configured. The state and the
# reason are in the message text, e.g.
#   ... [4242] INFO binance_conn.supervisor: market session CONNECTED: all streams subscribed
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "binance_conn": {"handlers": ["console"], "level": "INFO"},
        "prices": {"handlers": ["console"], "level": "INFO"},
    },
}
