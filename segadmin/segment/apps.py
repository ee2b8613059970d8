from django.apps import AppConfig


class SegmentConfig(AppConfig):
    name = "segadmin.segment"
    label = "segment"
    verbose_name = "Segment APIs"
