import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model


@pytest.mark.django_db
def test_repeated_failed_logins_are_refused_with_a_clear_page(client):
    # given a verified buyer
    user = get_user_model().objects.create_user(
        email="buyer@example.com", password="right-pass-123"
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    # when someone guesses wrong five times (the limit is 5 per 5 minutes per account)
    for _ in range(5):
        response = client.post("/accounts/login/", {"login": user.email, "password": "wrong"})
        assert response.status_code == 200
    # then the sixth attempt, even with the right password, is refused with a message
    response = client.post("/accounts/login/", {"login": user.email, "password": "right-pass-123"})
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_correct_login_within_the_limit_succeeds(client):
    user = get_user_model().objects.create_user(
        email="buyer@example.com", password="right-pass-123"
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    client.post("/accounts/login/", {"login": user.email, "password": "wrong"})
    response = client.post("/accounts/login/", {"login": user.email, "password": "right-pass-123"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
