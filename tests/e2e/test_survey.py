"""A shipped unit's buyer is asked for a rating on their phone, and the product page shows it.

The unit goes through the real fulfilment services (pick, pack, close with customs, ship; the
stations' clicks are test_fulfilment's journey) and the simulated carrier's signed pushes to
delivery, whose hook invites the buyer. The beat's survey tasks send the invitation through push's
outbox to a real HTTP fake provider on the buyer's preferred channel; the buyer opens the link
from the provider's log in a phone-sized browser, answers by tapping and typing, and the product
page and the list sorted by rating show the new rating. Bad answers, bad or old links, quiet hours
in the buyer's time zone and an opt-out from a message's own link are covered too.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from tests.factories import orders as order_factories

from .helpers import PASSWORD, PHONE, assert_no_horizontal_scroll, screenshot

# The simulated carrier returns one parcel in forty to the sender: re-rolled so each ends delivered.
from .test_fulfilment import delivered_waybills  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("delivered_waybills"),
]

SERUM = "Rose Hydrating Face Serum"
PACKED = "How well was it packed?"
MATCHED = "Did it match the description?"
USE = "What do you use it for?"
OVERALL = re.compile(r"^Overall, how would you rate this product\?")
QUIET_HOURS = "21:00-08:00"
PHONE_CONTEXT = {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def zone_at(local_hours: range) -> str:
    """A time zone where the clock now shows one of these hours (Etc/GMT-8 is UTC+8)."""
    now = datetime.now(UTC)
    for offset in range(-12, 15):
        name = "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"
        if now.astimezone(ZoneInfo(name)).hour in local_hours:
            return name
    raise AssertionError(f"no time zone has an hour in {local_hours}")  # pragma: no cover


DAYTIME = range(11, 16)  # hours from quiet hours' either end, however long the test runs
NIGHT = range(1, 5)


@pytest.fixture
def provider(settings, live_server):
    """The real HTTP fake provider on 127.0.0.1, every channel pointed at it; links in messages
    lead to the live server."""
    from tests.factories.push import start_fake_provider

    fake = start_fake_provider(settings)
    settings.PUSH_QUIET_HOURS = QUIET_HOURS
    settings.PUSH_HTTP_TIMEOUT = 5
    settings.PUBLIC_BASE_URL = live_server.url
    yield fake
    fake.stop()


@dataclass
class Shop:
    product: object  # the serum, with the merchant's three questions and stock
    catalog: object


@pytest.fixture
def shop(catalog, settings) -> Shop:
    """The catalogue of the other journeys; the serum's merchant asks three questions."""
    from aftersales.models import SurveyQuestion
    from aftersales.services import question_save
    from tests.factories.warehouse import units_available

    settings.CUSTOMS_SIMULATED_DELAY_SECONDS = 0  # the customs decision runs after commit
    serum = catalog.serum
    staff = catalog.merchant.applicant
    for position, question in enumerate(
        [
            SurveyQuestion(product=serum, kind="stars", prompt=PACKED, required=True),
            SurveyQuestion(
                product=serum,
                kind="choice",
                prompt=MATCHED,
                choices="Yes, exactly\nMostly\nNo",
                required=True,
            ),
            SurveyQuestion(product=serum, kind="text", prompt=USE),
        ]
    ):
        question.position = position
        question_save(question=question, actor=staff)
    units_available(product=serum, n=2)
    return Shop(product=serum, catalog=catalog)


def buyer(email: str, **profile):
    from accounts.services import buyer_profile_update

    user = order_factories.buyer(email=email, password=PASSWORD)
    buyer_profile_update(user=user, data=profile)
    return user


def ship_and_deliver(user, product):
    """One unit bought, paid, picked, packed, shipped (the fulfilment services) and carried to
    the door by the simulated carrier's signed pushes, whose delivery hook invites the buyer."""
    from logistics.services import simulated_carrier_push_due
    from orders import services as orders
    from tests.factories.warehouse import staff_user
    from warehouse.models import StockUnit

    order = order_factories.pay(order_factories.place(user, (product, 1)))
    clerk = staff_user()
    unit = StockUnit.objects.filter(product=product, status="available").order_by("pk").first()
    orders.fulfil_pick(order_number=order.number, item_number=unit.item_number, actor=clerk)
    orders.fulfil_pack_scan(order_number=order.number, item_number=unit.item_number, actor=clerk)
    parcel = orders.fulfil_pack_close(order_number=order.number, weight_grams=180, actor=clerk)
    orders.fulfil_ship(parcel_code=parcel.code, actor=clerk)
    assert simulated_carrier_push_due(now=timezone.now() + timedelta(days=1)) > 0
    order.refresh_from_db()
    unit.refresh_from_db()
    assert (order.status, unit.status) == ("delivered", "delivered")
    return order, unit


def beat_sends_invitations() -> int:
    """The beat's survey tasks now, then the sender a day after delivery (the survey waits
    SURVEY_DELAY_AFTER_DELIVERY_HOURS); push's sender is kicked after commit (eager Celery)."""
    from django.conf import settings

    from aftersales.services import invitations_send_due
    from aftersales.tasks import survey_send_due, survey_sweep

    assert survey_sweep.apply().get() == 0  # the delivery hook already invited the buyer
    assert survey_send_due.apply().get() == 0  # delivered just now: not due yet
    later = timezone.now() + timedelta(hours=settings.SURVEY_DELAY_AFTER_DELIVERY_HOURS, minutes=1)
    return invitations_send_due(now=later)


def survey_url(invitation) -> str:
    from aftersales.services import survey_link

    return survey_link(invitation.pk)


def star(group, label: str):
    return group.get_by_role("radio", name=label, exact=True)


def phone_page(browser: Browser, browser_context_args):
    context = browser.new_context(**{**browser_context_args, **PHONE_CONTEXT})
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def ratings_region(page: Page):
    return page.get_by_role("region", name="Ratings")


def test_a_delivered_unit_is_rated_on_a_phone_and_the_product_page_shows_it(
    page: Page,
    live_server,
    provider,
    shop: Shop,
    browser: Browser,
    browser_context_args,
):
    from aftersales.models import SurveyInvitation, SurveyResponse
    from push.models import Message
    from push.services import unsubscribe_url

    # given: a buyer who prefers WeChat (and has a phone), awake in their time zone
    chen = buyer(
        "chen.jing@buyer.example",
        phone="+8613800138000",
        wechat_id="wxid_chenjing88",
        preferred_channel="wechat",
        timezone=zone_at(DAYTIME),
    )
    serum = shop.product
    page.goto(f"/products/{serum.slug}/")
    expect(ratings_region(page)).to_contain_text(
        "No ratings yet. Buyers are asked for their rating after delivery."
    )

    # when: the unit is shipped and delivered, and the beat sends the due invitations
    order, unit = ship_and_deliver(chen, serum)
    invitation = SurveyInvitation.objects.get()
    assert (invitation.unit_id, invitation.buyer_id, invitation.status) == (
        unit.pk,
        chen.pk,
        "pending",
    )
    assert provider.stats()["accepted"] == 0
    assert beat_sends_invitations() == 1

    # then: exactly one message, on WeChat, to this buyer, with the survey link and the opt-out
    link = survey_url(invitation)
    assert link.startswith(f"{live_server.url}/survey/")
    [(key, sent)] = provider.accepted.items()
    assert key == f"survey:{invitation.pk}:invitation"
    assert (sent["channel"], sent["to"], sent["copies"]) == ("wechat", "wxid_chenjing88", 1)
    body, link_line, opt_out = sent["text"].split("\n")
    assert SERUM in body
    assert order.number in body
    assert link_line == link
    assert opt_out.endswith(unsubscribe_url(chen.pk))
    assert provider.stats()["duplicates"] == 0
    message = Message.objects.get()
    assert (message.status, message.channel, message.recipient) == (
        "sent",
        "wechat",
        "wxid_chenjing88",
    )
    invitation.refresh_from_db()
    assert (invitation.status, invitation.channel) == ("sent", "wechat")

    # the buyer opens the link on the phone and answers with taps and the on-screen keyboard
    context, phone = phone_page(browser, browser_context_args)
    try:
        phone.goto(link_line)
        expect(phone.get_by_role("heading", level=1)).to_have_text("How was your purchase?")
        expect(phone.locator(".survey__product")).to_contain_text(f"{SERUM}, order {order.number}")
        expect(phone.locator(".survey__product")).to_contain_text(f"Item number {unit.item_number}")
        assert_no_horizontal_scroll(phone)
        overall = phone.get_by_role("group", name=OVERALL)
        for label in ("5 stars: excellent", "1 star: very poor"):
            radio = phone.get_by_role("radio", name=label, exact=True)
            box = overall.locator("label").filter(has=radio).bounding_box()
            assert box["width"] >= 44, box  # a thumb's target, not a tiny glyph
            assert box["height"] >= 44, box
        screenshot(phone, "phone-survey")

        star(overall, "4 stars: good").tap()
        packed = phone.get_by_role("group", name=PACKED)
        star(packed, "5 stars: excellent").tap()
        phone.get_by_role("group", name=MATCHED).get_by_role("radio", name="Yes, exactly").tap()
        phone.get_by_label(USE).tap()
        phone.keyboard.type("Every evening after cleansing.")
        phone.get_by_label("Anything else you would like to tell other buyers?").tap()
        phone.keyboard.type("Light and fresh, arrived well sealed.")
        expect(star(overall, "4 stars: good")).to_be_checked()
        phone.get_by_role("button", name="Send my answers").tap()

        expect(phone.get_by_role("heading", level=1)).to_have_text("Thank you")
        expect(phone.get_by_role("status")).to_have_text(
            "This survey has already been answered. Thank you!"
        )
        assert_no_horizontal_scroll(phone)
        screenshot(phone, "phone-survey-thanks")

        # the link is single use: opened again, it says it was answered, with no form
        phone.goto(link_line)
        expect(phone.get_by_role("heading", level=1)).to_have_text("Thank you")
        expect(phone.get_by_role("status")).to_have_text(
            "This survey has already been answered. Thank you!"
        )
        expect(phone.get_by_role("button", name="Send my answers")).to_have_count(0)
    finally:
        context.close()

    rating = SurveyResponse.objects.get()
    assert (rating.overall, rating.unit_id, rating.buyer_id, rating.comment) == (
        4,
        unit.pk,
        chen.pk,
        "Light and fresh, arrived well sealed.",
    )
    assert sorted(rating.answers.values_list("prompt", "stars", "choice", "text")) == [
        (MATCHED, None, "Yes, exactly", ""),
        (PACKED, 5, "", ""),
        (USE, None, "", "Every evening after cleansing."),
    ]

    # the product page (desktop) shows the new rating: average, count, 5→1, per question
    page.goto(f"/products/{serum.slug}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(SERUM)
    # by the product's name, in the ratings' summary, and on the rating itself
    expect(page.get_by_role("img", name="4.0 out of 5 from 1 rating")).to_have_count(3)
    ratings = ratings_region(page)
    expect(ratings.locator(".ratings__average strong")).to_have_text("4.0")
    expect(ratings.locator(".ratings__verified")).to_have_text("1 rating from a verified purchase")
    bars = ratings.get_by_role("table", name="How many buyers gave each number of stars")
    expect(bars.get_by_role("rowheader")).to_have_text(
        ["5 stars", "4 stars", "3 stars", "2 stars", "1 star"]
    )
    expect(bars.locator(".ratings__n")).to_have_text(
        ["0 (0%)", "1 (100%)", "0 (0%)", "0 (0%)", "0 (0%)"]
    )
    questions = ratings.locator(".ratings__questions")
    expect(questions.locator("dt")).to_have_text([PACKED])
    expect(questions.get_by_role("img", name="5.0 out of 5 from 1 rating")).to_be_visible()
    [item] = ratings.locator(".ratings__item").all()
    expect(item).to_contain_text("Verified purchase")
    expect(item).to_contain_text("Light and fresh, arrived well sealed.")
    expect(item.get_by_role("img", name="4.0 out of 5 from 1 rating")).to_be_visible()
    expect(ratings).not_to_contain_text("chen")  # shown without the buyer's name
    screenshot(page, "desktop-product-rated")

    # and the product list sorted by rating puts it first
    page.goto("/products/")
    page.get_by_label("Sort by").select_option(label="Best rated")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"[?&]sort=rating"))
    cards = page.locator("#results .card")
    expect(cards.get_by_role("heading", level=3)).to_have_count(5)
    expect(cards.first.get_by_role("heading", level=3)).to_have_text(SERUM)
    expect(cards.first.get_by_role("img", name="4.0 out of 5 from 1 rating")).to_be_visible()
    expect(cards.locator(".rating--none")).to_have_count(4)


def test_a_missing_overall_rating_is_explained_and_the_other_answers_kept(
    live_server, provider, shop: Shop, browser: Browser, browser_context_args
):
    from aftersales.models import SurveyInvitation, SurveyResponse

    wang = buyer(
        "wang.fang@buyer.example",
        phone="+8613900139000",
        preferred_channel="sms",
        timezone=zone_at(DAYTIME),
    )
    ship_and_deliver(wang, shop.product)
    assert beat_sends_invitations() == 1
    [sent] = provider.accepted.values()
    assert (sent["channel"], sent["to"]) == ("sms", "+8613900139000")
    link = sent["text"].split("\n")[1]
    assert link == survey_url(SurveyInvitation.objects.get())

    context, phone = phone_page(browser, browser_context_args)
    try:
        phone.goto(link)
        packed = phone.get_by_role("group", name=PACKED)
        star(packed, "2 stars: poor").tap()
        phone.get_by_role("group", name=MATCHED).get_by_role("radio", name="Mostly").tap()
        phone.get_by_label(USE).tap()
        phone.keyboard.type("Mornings")
        phone.get_by_role("button", name="Send my answers").tap()

        overall = phone.get_by_role("group", name=OVERALL)
        expect(overall.locator(".error")).to_have_text(
            "Please choose an overall rating from 1 to 5 stars."
        )
        expect(overall).to_have_attribute("aria-describedby", "id_overall_error")
        # everything else the buyer gave is still there
        expect(star(packed, "2 stars: poor")).to_be_checked()
        expect(phone.get_by_role("radio", name="Mostly")).to_be_checked()
        expect(phone.get_by_label(USE)).to_have_value("Mornings")
        expect(phone.locator(".error")).to_have_count(1)
        assert_no_horizontal_scroll(phone)
        screenshot(phone, "phone-survey-missing-overall")
        assert SurveyResponse.objects.count() == 0

        star(overall, "3 stars: average").tap()
        phone.get_by_role("button", name="Send my answers").tap()
        expect(phone.get_by_role("heading", level=1)).to_have_text("Thank you")
    finally:
        context.close()
    rating = SurveyResponse.objects.get()
    assert rating.overall == 3
    assert sorted(rating.answers.values_list("prompt", "stars", "choice", "text")) == [
        (MATCHED, None, "Mostly", ""),
        (PACKED, 2, "", ""),
        (USE, None, "", "Mornings"),
    ]


def test_a_tampered_or_expired_link_shows_a_clear_page(
    live_server, provider, shop: Shop, browser: Browser, browser_context_args
):
    from aftersales.models import SurveyInvitation
    from aftersales.services import invitations_expire_due

    li = buyer("li.na@buyer.example", phone="+8613700137000", timezone=zone_at(DAYTIME))
    ship_and_deliver(li, shop.product)
    assert beat_sends_invitations() == 1
    invitation = SurveyInvitation.objects.get()
    link = survey_url(invitation)
    tampered = link[:-2] + ("A" if link[-2] != "A" else "B") + "/"

    context, phone = phone_page(browser, browser_context_args)
    try:
        for bad in (tampered, f"{live_server.url}/survey/{invitation.pk}/"):
            response = phone.goto(bad)
            assert response.status == 404
            expect(phone.get_by_role("heading", level=1)).to_have_text("This survey is closed")
            expect(phone.get_by_role("status")).to_have_text("This survey link is not valid.")
            expect(phone.get_by_role("link", name="Continue to Provena")).to_be_visible()
            assert_no_horizontal_scroll(phone)
        screenshot(phone, "phone-survey-invalid")

        # thirty days later the expiry task closes the unanswered link
        assert invitations_expire_due(now=invitation.expires_at) == 1
        response = phone.goto(link)
        assert response.status == 410
        expect(phone.get_by_role("heading", level=1)).to_have_text("This survey is closed")
        expect(phone.get_by_role("status")).to_have_text(
            "This survey link has expired. Thank you for your interest."
        )
        expect(phone.get_by_role("button", name="Send my answers")).to_have_count(0)
        assert_no_horizontal_scroll(phone)
        screenshot(phone, "phone-survey-expired")
    finally:
        context.close()
    invitation.refresh_from_db()
    assert (invitation.status, invitation.opened_at) == ("expired", None)


def test_quiet_hours_hold_the_invitation_until_morning_in_the_buyers_time_zone(
    live_server, provider, shop: Shop
):
    from aftersales.models import SurveyInvitation
    from push.models import Message
    from push.services import messages_send_batch

    night_zone = zone_at(NIGHT)
    zhao = buyer(
        "zhao.lei@buyer.example",
        phone="+8613600136000",
        wechat_id="wxid_zhaolei",
        preferred_channel="wechat",
        timezone=night_zone,
    )
    ship_and_deliver(zhao, shop.product)
    assert beat_sends_invitations() == 1

    # it is night where the buyer lives: the message waits for 08:00 there, nothing is sent
    message = Message.objects.get()
    local_now = timezone.now().astimezone(ZoneInfo(night_zone))
    morning = local_now.replace(hour=8, minute=0, second=0, microsecond=0)
    assert (message.status, message.channel, message.next_attempt_at) == (
        "held",
        "wechat",
        morning,
    )
    assert SurveyInvitation.objects.get().status == "sent"  # handed to push; push waits
    assert messages_send_batch().claimed == 0  # the beat's sender, now
    assert messages_send_batch(now=morning - timedelta(minutes=1)).claimed == 0
    assert provider.stats()["send_requests"] == 0
    assert provider.accepted == {}

    # when the window opens, it goes out once
    report = messages_send_batch(now=morning)
    assert (report.claimed, report.sent) == (1, 1)
    [sent] = provider.accepted.values()
    assert (sent["channel"], sent["to"], sent["copies"]) == ("wechat", "wxid_zhaolei", 1)
    assert sent["text"].split("\n")[1] == survey_url(SurveyInvitation.objects.get())
    assert messages_send_batch(now=morning + timedelta(hours=1)).claimed == 0
    assert provider.stats()["accepted"] == 1


def test_a_buyer_who_opts_out_from_a_message_gets_no_further_survey(
    live_server, provider, shop: Shop, browser: Browser, browser_context_args
):
    from aftersales.models import SurveyInvitation
    from push.models import Message

    sun = buyer(
        "sun.li@buyer.example",
        phone="+8613500135000",
        preferred_channel="sms",
        timezone=zone_at(DAYTIME),
    )
    # a first purchase brings an invitation, whose text ends with the opt-out link
    ship_and_deliver(sun, shop.product)
    assert beat_sends_invitations() == 1
    [first] = provider.accepted.values()
    assert first["to"] == "+8613500135000"
    unsubscribe = re.search(r"https?://\S+/unsubscribe/\S+/", first["text"])[0]
    assert unsubscribe.startswith(live_server.url)

    context, phone = phone_page(browser, browser_context_args)
    try:
        phone.goto(unsubscribe)
        expect(phone.get_by_role("heading", level=1)).to_have_text("Stop messages from Provena")
        surveys = phone.get_by_role("checkbox", name="Invitations to rate what you bought")
        expect(surveys).to_be_checked()
        phone.get_by_role("checkbox", name="Promotions and product recommendations").tap()
        assert_no_horizontal_scroll(phone)
        phone.get_by_role("button", name="Unsubscribe").tap()
        expect(phone.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
        expect(phone.get_by_role("listitem").filter(has_text="We will send")).to_have_text(
            ["We will send you no more invitations to rate what you bought."]
        )
        screenshot(phone, "phone-unsubscribed")
    finally:
        context.close()

    # a second purchase is delivered: its invitation is recorded as skipped, nothing is sent
    ship_and_deliver(sun, shop.product)
    second = SurveyInvitation.objects.order_by("pk").last()
    assert (second.status, second.skip_reason) == (
        "skipped",
        "The buyer turned order surveys off.",
    )
    assert beat_sends_invitations() == 0
    assert SurveyInvitation.objects.count() == 2
    assert Message.objects.count() == 1
    assert len(provider.accepted) == 1
    assert provider.stats()["send_requests"] == 1
