from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/profile/addresses/new/", views.address_edit, name="address_new"),
    path("accounts/profile/addresses/<int:pk>/", views.address_edit, name="address_edit"),
    path(
        "accounts/profile/addresses/<int:pk>/delete/", views.address_delete, name="address_delete"
    ),
    path("merchants/apply/", views.merchant_apply, name="merchant_apply"),
    path("merchants/<int:pk>/licence/", views.merchant_licence, name="merchant_licence"),
]
