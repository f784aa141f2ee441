from django.urls import path

from . import views

app_name = "aftersales"

urlpatterns = [
    path("survey/<str:token>/", views.survey, name="survey"),
]
