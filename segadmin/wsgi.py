"""WSGI entry point: `gunicorn segadmin.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segadmin.settings")

application = get_wsgi_application()
