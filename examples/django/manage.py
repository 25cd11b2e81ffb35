#!/usr/bin/env python
"""Django's command-line utility for the binance_conn example project.

    pip install . django                  # at the repository root: binance_conn and Django
    cd examples/django

    # Offline: run the fake exchange in another terminal and point the project at it
    python -m binance_conn.testing        # prints REST / WS URLs
    export BINANCE_REST_URL=http://127.0.0.1:<port> BINANCE_WS_URL=ws://127.0.0.1:<port>

    python manage.py runserver            # the autoreloader's child starts the one connector
    curl localhost:8000/price             # latest trade; /health: 200 when ready

    gunicorn priceproject.wsgi            # production: one connector per worker (see prices/apps.py)
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "priceproject.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
