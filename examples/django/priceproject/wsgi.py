"""WSGI entry point (gunicorn priceproject.wsgi). Importing it runs django.setup(), hence
PricesConfig.ready(), in the process that will serve requests (each gunicorn worker, unless
--preload: see prices/apps.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "priceproject.settings")
application = get_wsgi_application()
