from django.urls import path

from . import views

app_name = "push"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("webhooks/messages/<str:channel>/", views.message_webhook, name="message_webhook"),
]
