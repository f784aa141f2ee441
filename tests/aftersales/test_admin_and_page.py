"""Merchant console (scoped to their own products), staff hiding, and the product page block."""

import pytest
from django.urls import reverse

from aftersales import services
from aftersales.models import ResponseEvent, SurveyInvitation, SurveyQuestion, SurveyResponse
from catalog.models import Product
from core.errors import DomainError
from tests.factories import orders as f
from tests.factories.accounts import PlatformAdminFactory, merchant_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated(ship, deliver, sent_messages, settings):
    """rated(product, stars, comment) -> the SurveyResponse of a freshly delivered unit."""
    settings.SURVEY_DELAY_AFTER_DELIVERY_HOURS = 0

    def run(product, stars, comment=""):
        order, parcel = ship((product, 1))
        deliver(order, parcel)
        services.invitations_send_due()
        invitation = SurveyInvitation.objects.get(order_number=order.number)
        return services.survey_submit(invitation_id=invitation.pk, overall=stars, comment=comment)

    return run


def test_merchants_see_and_answer_only_their_own_ratings(client, rated):
    mine, theirs = f.stocked_product(1), f.stocked_product(1)
    my_rating = rated(mine, 2, "Arrived late")
    their_rating = rated(theirs, 5)
    client.force_login(merchant_staff(mine.merchant))
    listing = client.get(reverse("admin:aftersales_surveyresponse_changelist"))
    assert listing.status_code == 200
    assert "Arrived late" in listing.content.decode()
    other = reverse("admin:aftersales_surveyresponse_change", args=[their_rating.pk])
    assert client.get(other).status_code == 404
    assert client.post(other, {"reply": "x"}).status_code == 404

    url = reverse("admin:aftersales_surveyresponse_change", args=[my_rating.pk])
    assert client.post(url, {"reply": "Sorry, we changed carrier."}).status_code == 302
    my_rating.refresh_from_db()
    assert my_rating.reply == "Sorry, we changed carrier."
    assert list(ResponseEvent.objects.values_list("kind", flat=True)) == ["replied"]
    assert SurveyResponse.objects.get(pk=their_rating.pk).reply == ""
    with pytest.raises(DomainError):
        services.response_reply(
            response_id=their_rating.pk, actor=merchant_staff(mine.merchant), text="hi"
        )


def test_nobody_deletes_a_rating_and_merchants_cannot_hide(client, rated):
    product = f.stocked_product(1)
    rating = rated(product, 1, "Terrible")
    client.force_login(PlatformAdminFactory())
    delete = reverse("admin:aftersales_surveyresponse_delete", args=[rating.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert SurveyResponse.objects.filter(pk=rating.pk).exists()
    with pytest.raises(DomainError) as denied:
        services.response_hide(
            response_id=rating.pk, actor=merchant_staff(product.merchant), reason="I dislike it"
        )
    assert denied.value.code == "permission_denied"
    assert SurveyResponse.objects.get(pk=rating.pk).hidden is False


def test_staff_hide_abusive_text_with_a_reason_and_its_stars_still_count(client, rated):
    product = f.stocked_product(2)
    rating = rated(product, 1, "Abusive words")
    rated(product, 5, "Great")
    client.force_login(PlatformAdminFactory())
    url = reverse("admin:aftersales_surveyresponse_change", args=[rating.pk])
    no_reason = client.post(url, {"reply": "", "hidden": "on", "hidden_reason": ""})
    assert no_reason.status_code == 200  # the form explains
    assert SurveyResponse.objects.get(pk=rating.pk).hidden is False
    client.post(url, {"reply": "", "hidden": "on", "hidden_reason": "Insults"})
    rating.refresh_from_db()
    assert (rating.hidden, rating.hidden_reason) == (True, "Insults")
    page = client.get(reverse("catalog:product_detail", args=[product.slug])).content.decode()
    assert "Abusive words" not in page
    assert "Great" in page
    assert "Its stars still count." in page
    assert Product.objects.get(pk=product.pk).rating_count == 2


def test_merchant_edits_questions_for_own_products_and_previews_the_survey(client):
    mine, theirs = f.stocked_product(1), f.stocked_product(1)
    client.force_login(merchant_staff(mine.merchant))
    add = reverse("admin:aftersales_surveyquestion_add")
    response = client.post(
        add,
        {"product": mine.pk, "kind": "stars", "prompt": "Quality", "position": 0, "active": "on"},
    )
    assert response.status_code == 302
    question = SurveyQuestion.objects.get()
    assert (question.merchant_id, question.product_id) == (mine.merchant_id, mine.pk)
    refused = client.post(
        add, {"product": theirs.pk, "kind": "stars", "prompt": "Sneaky", "position": 0}
    )
    assert refused.status_code == 200  # not a choice for this merchant
    assert SurveyQuestion.objects.count() == 1
    preview = client.get(reverse("admin:aftersales_surveyquestion_preview", args=[mine.pk]))
    assert preview.status_code == 200
    assert "Quality" in preview.content.decode()
    assert "Preview" in preview.content.decode()
    other = reverse("admin:aftersales_surveyquestion_preview", args=[theirs.pk])
    assert client.get(other).status_code == 404


def test_category_default_questions_apply_to_products_without_their_own(client):
    product = f.stocked_product(1)
    client.force_login(merchant_staff(product.merchant))
    response = client.post(
        reverse("admin:aftersales_surveyquestion_add"),
        {"category": product.category_id, "kind": "text", "prompt": "Delivery?", "position": 0},
    )
    assert response.status_code == 302
    preview = client.get(reverse("admin:aftersales_surveyquestion_preview", args=[product.pk]))
    assert "Delivery?" in preview.content.decode()


def test_the_product_page_rating_block_and_its_pinned_queries(
    client, rated, django_assert_num_queries
):
    from django.core.cache import cache

    product = f.stocked_product(4)
    question = services.question_save(
        question=SurveyQuestion(product=product, kind="stars", prompt="Quality"),
        actor=product.merchant.applicant,
    )
    for stars in (5, 5, 4, 1):
        order_rating = rated(product, stars, f"{stars} stars text")
        SurveyResponse.objects.filter(pk=order_rating.pk)  # answers added below
    services.rating_summary_rebuild(product=Product.objects.get(pk=product.pk))
    url = reverse("catalog:product_detail", args=[product.slug])
    cache.clear()
    # product, images, category tree, sellable count + the ratings block's three reads.
    with django_assert_num_queries(7):
        html = client.get(url).content.decode()
    assert "3.8" in html
    assert "4 ratings from verified purchases" in html
    assert html.count("Verified purchase") == 4
    for text in ("5 stars text", "1 stars text"):
        assert text in html
    with django_assert_num_queries(1):  # cached: the stock count only
        client.get(url)
    assert question.pk
