from django.urls import path

from . import views

app_name = "warehouse"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("units/", views.unit_find, name="unit_find"),
    path("units/<str:item_number>/", views.unit_detail, name="unit_detail"),
    path("units/<str:item_number>/label.pdf", views.unit_label, name="unit_label"),
    path("receive/", views.receive_find, name="receive_find"),
    path("receive/<str:reference>/", views.receive, name="receive"),
    path("receive/<str:reference>/damage/", views.receive_damage, name="receive_damage"),
    path("receive/<str:reference>/close/", views.receive_close, name="receive_close"),
    path("receipts/<int:pk>/", views.receipt_detail, name="receipt_detail"),
    path("receipts/<int:pk>/labels.pdf", views.receipt_labels, name="receipt_labels"),
    path("count/", views.count_start, name="count_start"),
    path("count/<int:pk>/", views.count_detail, name="count_detail"),
    path("count/<int:pk>/close/", views.count_close, name="count_close"),
    path("pick/", views.pick_start, name="pick_start"),
    path("pick/<str:numbers>/", views.pick, name="pick"),
    path("pack/", views.pack_start, name="pack_start"),
    path("pack/<str:number>/", views.pack, name="pack"),
    path(
        "parcels/<str:code>/<str:kind>.pdf",
        views.parcel_document,
        name="parcel_document",
    ),
    path("ship/", views.ship, name="ship"),
]
