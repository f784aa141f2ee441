from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import MerchantScopedAdmin, is_platform_staff
from core.errors import DomainError

from . import services
from .forms_admin import ProductAdminForm, ProductImageInlineForm, ProductImageInlineFormSet
from .models import Category, ExchangeRate, ListingStatus, Product, ProductImage


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "name_zh", "parent", "slug", "position"]
    list_select_related = ["parent"]
    list_filter = [("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "name_zh", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent"]
    ordering = ["parent__id", "position", "name"]

    def save_model(self, request, obj, form, change):
        services.category_save(category=obj)

    def delete_model(self, request, obj):
        try:
            services.category_delete(category=obj)
        except DomainError as err:
            messages.error(request, err.message)

    def has_delete_permission(self, request, obj=None):
        return is_platform_staff(request.user) and super().has_delete_permission(request, obj)


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ["currency", "cny_per_unit", "source", "updated_at"]

    def save_model(self, request, obj, form, change):
        services.exchange_rate_set(
            currency=obj.currency, cny_per_unit=obj.cny_per_unit, source=obj.source
        )

    def has_module_permission(self, request):
        return is_platform_staff(request.user)

    has_view_permission = has_add_permission = has_change_permission = (
        lambda self, request, obj=None: is_platform_staff(request.user)
    )
    has_delete_permission = lambda self, request, obj=None: False  # noqa: E731


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    form = ProductImageInlineForm
    formset = ProductImageInlineFormSet
    extra = 1
    fields = ["preview", "image", "alt", "position"]
    readonly_fields = ["preview"]

    @admin.display(description=_("Preview"))
    def preview(self, obj):
        if obj.pk and obj.thumbnail:
            return format_html('<img src="{}" alt="" style="height:64px">', obj.thumbnail.url)
        return "—"


@admin.register(Product)
class ProductAdmin(MerchantScopedAdmin):
    form = ProductAdminForm
    list_display = [
        "name",
        "merchant",
        "category",
        "price",
        "currency",
        "status",
        "rating_count",
        "updated_at",
    ]
    list_select_related = ["merchant", "category"]
    list_filter = ["status", "currency", ("category", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "slug", "hs_code"]
    readonly_fields = ["price_cny", "listed_at", "rating_avg", "rating_count"]
    autocomplete_fields = ["category"]
    inlines = [ProductImageInline]
    actions = ["list_products", "pause_products"]
    list_per_page = 50

    def get_fields(self, request, obj=None):
        fields = [
            "name",
            "slug",
            "category",
            "description",
            "price",
            "currency",
            "price_cny",
            "origin_country",
            "hs_code",
            "weight_grams",
            "status",
            "listed_quantity_cap",
            "listed_at",
            "rating_avg",
            "rating_count",
        ]
        if is_platform_staff(request.user):
            fields.insert(0, "merchant")
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.request_user = request.user
        return form

    def save_model(self, request, obj, form, change):
        if not is_platform_staff(request.user):
            obj.merchant_id = request.user.merchant_id
        services.product_save(product=obj, actor=request.user)

    def save_formset(self, request, form, formset, change):
        # Images go through the service (content check, thumbnail, cover); never a raw save.
        # formset.save() is skipped, so fill in what it would have: the admin's change message
        # (LogEntry) reads new_objects, changed_objects and deleted_objects.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for deleted in formset.deleted_forms:
            if deleted.instance.pk:
                services.product_image_delete(image=deleted.instance)
                formset.deleted_objects.append(deleted.instance)
        for inline_form in formset.forms:
            if inline_form in formset.deleted_forms or not inline_form.has_changed():
                continue
            data = inline_form.cleaned_data
            upload = data.get("image")
            if inline_form.instance.pk:
                image = inline_form.instance
                services.product_image_update(
                    image=image, alt=data.get("alt", ""), position=data.get("position") or 0
                )
                formset.changed_objects.append((image, inline_form.changed_data))
            elif upload:
                created = services.product_image_add(
                    product=form.instance,
                    upload=upload,
                    name=upload.name,
                    alt=data.get("alt", ""),
                    position=data.get("position"),
                )
                formset.new_objects.append(created)

    def delete_model(self, request, obj):
        services.product_delete(product=obj)

    def delete_queryset(self, request, queryset):
        for product in queryset:
            services.product_delete(product=product)

    @admin.action(description=_("List selected products"), permissions=["change"])
    def list_products(self, request, queryset):
        for product in queryset:
            services.product_set_status(product=product, status=ListingStatus.LISTED)
        self.message_user(
            request,
            ngettext("%(n)d product listed.", "%(n)d products listed.", queryset.count())
            % {"n": queryset.count()},
        )

    @admin.action(description=_("Pause selected products"), permissions=["change"])
    def pause_products(self, request, queryset):
        for product in queryset:
            services.product_set_status(product=product, status=ListingStatus.PAUSED)
        self.message_user(
            request,
            ngettext("%(n)d product paused.", "%(n)d products paused.", queryset.count())
            % {"n": queryset.count()},
        )


@admin.register(ProductImage)
class ProductImageAdmin(MerchantScopedAdmin):
    merchant_path = "product__merchant"
    list_display = ["__str__", "product", "position", "width", "height"]
    list_select_related = ["product"]
    raw_id_fields = ["product"]
    form = ProductImageInlineForm
    fields = ["product", "image", "alt", "position"]

    def has_module_permission(self, request):
        return False  # managed inline on the product page; the URL still works and is scoped

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "product" and not is_platform_staff(request.user):
            kwargs["queryset"] = Product.objects.filter(merchant_id=request.user.merchant_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            services.product_image_update(image=obj, alt=obj.alt, position=obj.position)
            return
        upload = form.cleaned_data["image"]
        try:
            created = services.product_image_add(
                product=obj.product,
                upload=upload,
                name=upload.name,
                alt=obj.alt,
                position=obj.position,
            )
        except DomainError as err:
            raise ValidationError(err.message) from err
        obj.pk = created.pk

    def delete_model(self, request, obj):
        services.product_image_delete(image=obj)
