"""The buyer's survey page: bad links and bad answers get a clear message, never a 500."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from aftersales import services
from aftersales.models import SurveyAnswer, SurveyInvitation, SurveyQuestion, SurveyResponse
from catalog.models import Product
from core.errors import DomainError
from tests.factories import orders as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def invitation(ship, deliver, sent_messages, settings):
    settings.SURVEY_DELAY_AFTER_DELIVERY_HOURS = 0
    product = f.stocked_product(1)
    order, parcel = ship((product, 1))
    deliver(order, parcel)
    services.invitations_send_due()
    return SurveyInvitation.objects.get()


def _url(invitation_id):
    return reverse("aftersales:survey", args=[services.invitation_token(invitation_id)])


def _question(invitation, **kwargs):
    product = Product.objects.get(pk=invitation.product_id)
    question = SurveyQuestion(product=product, **kwargs)
    return services.question_save(question=question, actor=product.merchant.applicant)


def test_a_tampered_or_made_up_token_is_a_404_with_a_message(client, invitation):
    token = services.invitation_token(invitation.pk)
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), "123:abc", f"{invitation.pk}"):
        response = client.get(reverse("aftersales:survey", args=[bad]))
        assert response.status_code == 404
        assert "This survey link is not valid." in response.content.decode()


def test_an_expired_link_says_so_and_takes_no_answer(client, invitation):
    SurveyInvitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    page = client.get(_url(invitation.pk))
    assert page.status_code == 410
    assert "This survey link has expired." in page.content.decode()
    assert client.post(_url(invitation.pk), {"overall": "5"}).status_code == 410
    assert SurveyResponse.objects.count() == 0
    assert services.invitations_expire_due() == 1
    assert SurveyInvitation.objects.get().status == "expired"


def test_missing_or_out_of_range_overall_rating_is_explained(client, invitation):
    for data in ({}, {"overall": "6"}, {"overall": "0"}, {"overall": "x"}):
        response = client.post(_url(invitation.pk), data)
        assert response.status_code == 400
        assert "Please choose an overall rating from 1 to 5 stars." in response.content.decode()
    assert SurveyResponse.objects.count() == 0
    assert SurveyInvitation.objects.get().status == "sent"


def test_merchant_questions_are_asked_validated_and_stored(client, invitation):
    fit = _question(invitation, kind="stars", prompt="Fit", required=True)
    colour = _question(invitation, kind="choice", prompt="Colour", choices="As shown\nDarker")
    note = _question(invitation, kind="text", prompt="Anything to improve?")
    page = client.get(_url(invitation.pk)).content.decode()
    assert all(p in page for p in ("Fit", "Colour", "Darker", "Anything to improve?"))

    missing = client.post(_url(invitation.pk), {"overall": "4"})
    assert missing.status_code == 400
    wrong = client.post(_url(invitation.pk), {"overall": "4", f"q{fit.pk}": "9"})
    assert wrong.status_code == 400
    assert "Choose from 1 to 5 stars." in wrong.content.decode()

    ok = client.post(
        _url(invitation.pk),
        {"overall": "4", f"q{fit.pk}": "3", f"q{colour.pk}": "Darker", f"q{note.pk}": "Bigger"},
    )
    assert ok.status_code == 302
    answers = {a.prompt: (a.stars, a.choice, a.text) for a in SurveyAnswer.objects.all()}
    assert answers == {
        "Fit": (3, "", ""),
        "Colour": (None, "Darker", ""),
        "Anything to improve?": (None, "", "Bigger"),
    }


def test_the_service_refuses_bad_answers_with_a_stable_code(invitation):
    fit = _question(invitation, kind="stars", prompt="Fit", required=True)
    with pytest.raises(DomainError) as missing:
        services.survey_submit(invitation_id=invitation.pk, overall=4)
    with pytest.raises(DomainError) as range_:
        services.survey_submit(invitation_id=invitation.pk, overall=4, answers={fit.pk: 6})
    with pytest.raises(DomainError) as overall:
        services.survey_submit(invitation_id=invitation.pk, overall=7)
    assert (missing.value.code, range_.value.code, overall.value.code) == (
        "answer_missing",
        "out_of_range",
        "overall_missing",
    )
    services.survey_submit(invitation_id=invitation.pk, overall=2, answers={fit.pk: 1})
    with pytest.raises(DomainError) as used:
        services.survey_submit(invitation_id=invitation.pk, overall=5, answers={fit.pk: 5})
    assert used.value.code == "survey_used"
    assert SurveyResponse.objects.get().overall == 2


def test_the_page_works_without_javascript_and_has_big_star_targets(client, invitation):
    html = client.get(_url(invitation.pk)).content.decode()
    assert '<form method="post"' in html
    assert html.count('type="radio" name="overall"') == 5
    assert "stars-input__option" in html
    assert "<script" not in html.split("<main", 1)[1]
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html


def test_a_browser_can_post_the_form_with_csrf_checks_on(invitation):
    """Regression: under `Referrer-Policy: no-referrer` browsers send `Origin: null` with the
    form's POST and CSRF refused every answer (403). The page keeps its token from other sites
    with `same-origin`, under which a browser sends the site's own origin."""
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    page = browser.get(_url(invitation.pk))
    assert page["Referrer-Policy"] == "same-origin"
    token = str(page.context["csrf_token"])
    null_origin = browser.post(
        _url(invitation.pk), {"overall": "4", "csrfmiddlewaretoken": token}, HTTP_ORIGIN="null"
    )
    assert null_origin.status_code == 403  # what no-referrer made browsers send
    assert SurveyResponse.objects.count() == 0
    answered = browser.post(
        _url(invitation.pk),
        {"overall": "4", "csrfmiddlewaretoken": token},
        HTTP_ORIGIN="http://testserver",
    )
    assert answered.status_code == 302
    assert SurveyResponse.objects.get().overall == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_double_submit_records_one_rating(race, ship, deliver, sent_messages, settings):
    settings.SURVEY_DELAY_AFTER_DELIVERY_HOURS = 0
    product = f.stocked_product(1)
    order, parcel = ship((product, 1))
    deliver(order, parcel)
    services.invitations_send_due()
    invitation = SurveyInvitation.objects.get()

    def submit(stars):
        return lambda: services.survey_submit(invitation_id=invitation.pk, overall=stars)

    results = race(submit(5), submit(1))
    errors = [r for r in results if isinstance(r, DomainError)]
    assert [e.code for e in errors] == ["survey_used"]
    assert SurveyResponse.objects.count() == 1
    assert Product.objects.get(pk=product.pk).rating_count == 1
