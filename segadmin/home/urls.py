from django.urls import path

from segadmin.home import views

app_name = "home"

urlpatterns = [
    path("", views.index, name="index"),
]
