from django.urls import path

from . import views

app_name = "authenticity"
urlpatterns = [
    path("authenticity/", views.queue, name="queue"),
    path("authenticity/units/<str:item_number>/", views.unit, name="unit"),
    path("authenticity/rejected/", views.rejected, name="rejected"),
    path("authenticity/photos/<int:pk>/<str:kind>/", views.photo, name="photo"),
    path("verify/", views.verify, name="verify"),
    path("verify/<str:item_number>/", views.verify_result, name="verify_result"),
]
