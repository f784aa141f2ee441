"""The public verify page: the truth for a right code, nothing at all for a wrong one."""

import re
import shutil
import string
import subprocess
from urllib.parse import quote, urlencode

import pytest
from django.db import transaction
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authenticity import services
from authenticity.models import VerificationCheck
from warehouse.codes import new_item_number, verification_code

from .conftest import receive, reject

pytestmark = pytest.mark.django_db

NEUTRAL = "We could not verify this item number and code. Check both and try again."
# The unit, earlier checks (one aggregate), the new check, the final case, the unit's history.
RESULT_QUERIES = 5
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def url(number: str, code: str | None = None) -> str:
    base = f"/verify/{number}/"
    return f"{base}?{urlencode({'c': code})}" if code is not None else base


def _without_csrf(html: str) -> str:
    return CSRF.sub('name="csrfmiddlewaretoken" value=""', html)


@pytest.fixture
def genuine(units, appraiser):
    services.appraisal_record(
        item_number=units[0].item_number, appraiser=appraiser, verdict="genuine"
    )
    units[0].refresh_from_db()
    return units[0]


def test_a_right_code_shows_the_verdict_and_the_chain_of_custody(client, genuine, product):
    response = client.get(url(genuine.item_number, verification_code(genuine.item_number)))

    assert response.status_code == 200
    assert response.context["state"] == "genuine"
    html = response.content.decode()
    assert '<h1 id="verdict-heading" class="verdict__title">\n      Genuine' in html
    assert f'<a href="/products/{product.slug}/">Quilted Flap Bag</a>' in html
    assert product.merchant.name in html
    assert [step.text for step in response.context["result"].custody] == [
        "Received at the Provena warehouse from the merchant",
        "Examined by a Provena appraiser and found genuine; put into stock",
    ]
    assert "Examined by a Provena appraiser and found genuine; put into stock</span>" in html
    assert "This is the first time this label has been checked." in html
    assert NEUTRAL not in html
    assert response["X-Robots-Tag"] == "noindex"
    assert "no-cache" in response["Cache-Control"]


def test_the_code_may_be_typed_untidily(client, genuine):
    code = verification_code(genuine.item_number)

    response = client.get(url(genuine.item_number.lower(), f"{code[:4].lower()}-{code[4:]}"))

    assert response.context["state"] == "genuine"


def test_a_failed_unit_says_it_was_withdrawn_and_then_destroyed(
    client, units, appraiser, appraiser2, clerk
):
    fake = reject(units[0], verdict="counterfeit", first=appraiser, second=appraiser2)
    code = verification_code(fake.item_number)

    withdrawn = client.get(url(fake.item_number, code))
    services.unit_destroy(
        item_number=fake.item_number, actor=clerk, witness=appraiser, method="Shredded"
    )
    destroyed = client.get(url(fake.item_number, code))

    assert withdrawn.context["state"] == "withdrawn"
    assert "Failed authentication and withdrawn from sale" in withdrawn.content.decode()
    assert destroyed.context["state"] == "destroyed"
    html = destroyed.content.decode()
    assert "Failed authentication and destroyed" in html
    assert "Provena never sold this unit. If you were sold it, contact customer service." in html
    assert [s.text for s in destroyed.context["result"].custody] == [
        "Received at the Provena warehouse from the merchant",
        "Failed authentication and was withdrawn from sale",
        "Destroyed under witness",
    ]


def test_a_unit_still_in_appraisal_is_not_called_genuine(client, units, product):
    response = client.get(url(units[0].item_number, verification_code(units[0].item_number)))

    assert response.context["state"] == "pending"
    assert "Not authenticated yet" in response.content.decode()


def test_an_unlisted_product_is_named_but_not_linked(client, product, genuine):
    from catalog import services as catalog

    catalog.product_set_status(product=product, status="paused")

    response = client.get(url(genuine.item_number, verification_code(genuine.item_number)))

    html = response.content.decode()
    assert "<dd>Quilted Flap Bag</dd>" in html
    assert f"/products/{product.slug}/" not in html


def test_wrong_code_and_unknown_number_look_exactly_the_same(client, genuine):
    # The same typed input, once for a unit that exists and once (rolled back) for none.
    typed = genuine.item_number
    wrong = client.get(url(typed, "ABCDEFGH"))

    unknown_number = new_item_number()
    unknown = client.get(url(unknown_number, "ABCDEFGH"))

    assert wrong.status_code == unknown.status_code == 200
    assert NEUTRAL in wrong.content.decode()
    assert _without_csrf(wrong.content.decode()).replace(typed, "N") == _without_csrf(
        unknown.content.decode()
    ).replace(unknown_number, "N")
    assert dict(wrong.headers).keys() == dict(unknown.headers).keys()
    assert not VerificationCheck.objects.exists()


def test_the_page_does_not_depend_on_whether_the_unit_exists(client, product, clerk):
    code = "ABCDEFGH"
    with transaction.atomic():
        unit = receive(product, 1, clerk)[0]
        number = unit.item_number
        exists = client.get(url(number, code))
        transaction.set_rollback(True)
    assert not type(unit).objects.filter(item_number=number).exists()

    missing = client.get(url(number, code))

    assert _without_csrf(exists.content.decode()) == _without_csrf(missing.content.decode())
    assert exists.status_code == missing.status_code == 200


def test_wrong_and_unknown_cost_the_same_queries(client, genuine, django_assert_num_queries):
    with django_assert_num_queries(0):
        client.get(url(genuine.item_number, "ABCDEFGH"))
    with django_assert_num_queries(0):
        client.get(url(new_item_number(), "ABCDEFGH"))


def test_result_queries_do_not_grow_with_checks_or_history(
    client, genuine, django_assert_num_queries
):
    code = verification_code(genuine.item_number)
    with django_assert_num_queries(RESULT_QUERIES):
        client.get(url(genuine.item_number, code))
    for n in range(12):
        client.get(url(genuine.item_number, code), headers={"user-agent": f"phone {n}"})
    with django_assert_num_queries(RESULT_QUERIES):
        response = client.get(url(genuine.item_number, code))

    assert response.context["result"].previous_checks == 13


def test_repeat_checks_from_other_phones_are_flagged(client, genuine):
    code = verification_code(genuine.item_number)

    first = client.get(url(genuine.item_number, code), headers={"user-agent": "phone A"})
    again = client.get(url(genuine.item_number, code), headers={"user-agent": "phone A"})
    other = client.get(url(genuine.item_number, code), headers={"user-agent": "phone B"})
    third = client.get(url(genuine.item_number, code), headers={"user-agent": "phone C"})

    assert [r.context["result"].previous_checks for r in (first, again, other, third)] == [
        0,
        1,
        2,
        3,
    ]
    assert [r.context["result"].flagged for r in (first, again, other, third)] == [
        False,
        False,
        False,
        True,
    ]
    html = third.content.decode()
    assert "This label has been checked 3 times before, first on" in html
    assert "This label has been checked many times" in html
    assert "contact customer service with your order number" in html
    assert "checked many times" not in other.content.decode()
    assert "This label has been checked 1 time before" in again.content.decode()


def test_clients_are_told_apart_by_ip_and_browser(client, genuine):
    code = verification_code(genuine.item_number)

    client.get(url(genuine.item_number, code), REMOTE_ADDR="10.0.0.1", headers={"user-agent": "A"})
    client.get(url(genuine.item_number, code), REMOTE_ADDR="10.0.0.2", headers={"user-agent": "A"})
    client.get(url(genuine.item_number, code), REMOTE_ADDR="10.0.0.2", headers={"user-agent": "B"})

    assert VerificationCheck.objects.values("client_hash").distinct().count() == 3


@override_settings(VERIFY_RATE_LIMIT=(3, 600))
def test_attempts_are_rate_limited_per_ip(client, genuine):
    code = verification_code(genuine.item_number)
    wrong = [client.get(url(genuine.item_number, "ABCDEFGH")) for _ in range(2)]
    right = client.get(url(genuine.item_number, code))

    limited = client.get(url(genuine.item_number, code))
    other_ip = client.get(url(genuine.item_number, code), REMOTE_ADDR="10.9.9.9")

    assert [r.status_code for r in [*wrong, right]] == [200, 200, 200]
    assert limited.status_code == 429
    assert limited["Retry-After"] == "600"
    assert "Please wait 10 minutes and try again." in limited.content.decode()
    assert other_ip.status_code == 200
    assert VerificationCheck.objects.count() == 2  # the limited attempt checked nothing


def test_the_form_redirects_to_the_label_url(client):
    response = client.get("/verify/", {"item": " pv7k-3m9q2txa ", "code": "ab cd efgh"})

    assert response.status_code == 302
    assert response["Location"] == "/verify/PV7K3M9Q2TXA/?c=ABCDEFGH"


def test_the_form_explains_what_it_needs(client):
    empty = client.get("/verify/")
    bad = client.get("/verify/", {"item": "PV/../x", "code": ""})

    assert empty.status_code == bad.status_code == 200
    assert not empty.context["form"].is_bound
    assert bad.context["form"].errors == {
        "item": ["Item numbers have only letters and digits, as printed on the label."],
        "code": ["This field is required."],
    }


def test_link_previews_do_not_count_as_checks(client, genuine):
    response = client.head(url(genuine.item_number, verification_code(genuine.item_number)))

    assert response.status_code == 200
    assert not VerificationCheck.objects.exists()


def test_a_label_url_without_code_asks_for_it(client, genuine):
    response = client.get(url(genuine.item_number))

    assert response.status_code == 200
    assert response.context["form"].initial == {"item": genuine.item_number, "code": ""}
    assert NEUTRAL not in response.content.decode()
    assert not VerificationCheck.objects.exists()


FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
junk = st.one_of(
    st.text(max_size=60),
    st.text(string.ascii_uppercase + string.digits + "-_ /%.", max_size=40),
    st.sampled_from(["PV7K3M9Q2TXA", "<script>alert(1)</script>", "\x00", "%00", "../..", "😀"]),
)


@FUZZ
@given(item=junk, code=st.one_of(st.none(), junk), extra=st.text(max_size=10))
@override_settings(VERIFY_RATE_LIMIT=(10**9, 600))
def test_no_input_breaks_the_verify_pages(client, genuine, item, code, extra):
    path = quote(item, safe="") or "x"
    query = {"c": code} if code is not None else {}
    responses = [
        client.get(f"/verify/{path}/", query),
        client.get("/verify/", {"item": item, "code": code or "", extra: item}),
        client.get(f"/verify/{path}/", {"c": genuine.item_number, extra: code or ""}),
    ]

    for response in responses:
        assert response.status_code in (200, 302, 404), response.status_code
        if response.status_code == 200:
            html = response.content.decode()
            assert "<script>alert(1)</script>" not in html
            assert "Genuine" not in html  # no guess ever lands on the unit


# --- in Chinese -------------------------------------------------------------------------------


@pytest.fixture
def compiled_catalog(tmp_path, settings):
    from django.conf import settings as django_settings
    from django.utils import translation

    po = django_settings.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    out = tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES"
    out.mkdir(parents=True)
    msgfmt = shutil.which("msgfmt")
    assert msgfmt, "apt-get install gettext"
    subprocess.run([msgfmt, "-o", str(out / "django.mo"), str(po)], check=True)  # noqa: S603
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    yield
    translation.deactivate()


def test_the_chain_of_custody_is_told_in_the_readers_language(client, genuine, compiled_catalog):
    code = verification_code(genuine.item_number)

    response = client.get(url(genuine.item_number, code), headers={"accept-language": "zh-hans"})

    html = response.content.decode()
    assert '<h1 id="verdict-heading" class="verdict__title">\n      正品' in html
    assert "<span>由商家发至 Provena 仓库并入库</span>" in html
    assert "这是此标签第一次被查询。" in html
    assert "Received at the Provena warehouse" not in html
