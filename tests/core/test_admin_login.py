import pytest


@pytest.mark.django_db
def test_the_admin_login_page_renders_for_anonymous_visitors(client):
    # Every ModelAdmin's permission hooks run for the login page's app list: none may assume
    # a signed-in user (AnonymousUser has no merchant).
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content


@pytest.mark.django_db
def test_the_admin_index_redirects_anonymous_visitors_to_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
