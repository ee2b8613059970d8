"""segadmin: a dashboard for sending events to Segment by hand, safely and on the record."""

__version__ = "0.1.0"
