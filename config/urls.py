from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from core import views as core_views
from logistics import views as logistics_views
from orders import views as orders_views

admin.site.site_header = _("Provena administration")
admin.site.site_title = _("Provena admin")
admin.site.index_title = _("Merchant and platform console")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", core_views.healthz, name="healthz"),
    path("_ceiling/", core_views.ceiling, name="ceiling"),
    path("", include("accounts.urls")),
    path("warehouse/", include("warehouse.urls")),
    path("", include("authenticity.urls")),
    path("", include("orders.urls")),
    path("", include("aftersales.urls")),
    path("webhooks/payments/<str:gateway>/", orders_views.payment_webhook, name="payment_webhook"),
    path(
        "webhooks/carriers/<str:carrier>/",
        logistics_views.carrier_webhook,
        name="carrier_webhook",
    ),
    path("", include("push.urls")),
    path("", include("catalog.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
