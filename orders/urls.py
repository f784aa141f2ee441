from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("cart/", views.cart, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("checkout/", views.checkout, name="checkout"),
    path("orders/", views.order_list, name="list"),
    path("orders/<str:number>/", views.order_detail, name="detail"),
    path("orders/<str:number>/pay/", views.pay, name="pay"),
    path("orders/<str:number>/check-payment/", views.order_check_payment, name="check_payment"),
    path("orders/<str:number>/cancel/", views.order_cancel, name="cancel"),
    path("pay/sandbox/<str:out_trade_no>/", views.sandbox_pay, name="sandbox_pay"),
    path("stock-notices/<int:product_id>/", views.stock_notice, name="stock_notice"),
]
