"""`{% per_language %}`: the site chrome is rendered once per language, and only what is the
same for every visitor may be inside it."""

import pytest
from django.template import TemplateSyntaxError, engines
from django.test import RequestFactory
from django.utils import translation

from core.templatetags.provena import PerLanguageNode
from tests.factories import UserFactory


def _template(body: str):
    return engines["django"].from_string("{% load i18n static provena %}" + body)


def test_renders_once_per_language_and_repeats_it():
    template = _template(
        "{% per_language %}<a href=\"{% url 'catalog:product_list' %}\">"
        '{% translate "All products" %}</a>{% endper_language %}'
    )
    [node] = [n for n in template.template.nodelist if isinstance(n, PerLanguageNode)]

    with translation.override("en"):
        english = [template.render({}) for _ in range(2)]
    with translation.override("zh-hans"):
        chinese = template.render({})

    assert english == ['<a href="/products/">All products</a>'] * 2
    assert chinese == '<a href="/products/">全部商品</a>'
    assert sorted(node.rendered) == ["en", "zh-hans"]


@pytest.mark.parametrize(
    "inside",
    [
        "{{ request.path }}",
        "{% csrf_token %}",
        "{% if user.is_authenticated %}x{% endif %}",
        "{% translate title %}",
        '{% translate "Search"|upper %}',
        "{% url view_name %}",
        "{% url 'catalog:product_detail' slug %}",
        "{% url 'catalog:home' as home %}",
        "{% static path %}",
    ],
)
def test_refuses_anything_that_may_differ_between_visitors(inside):
    with pytest.raises(TemplateSyntaxError, match="repeats its content to every visitor"):
        _template(f"{{% per_language %}}{inside}{{% endper_language %}}")


@pytest.mark.django_db
def test_the_site_chrome_stays_each_visitors_own(client):
    first = client.get("/products/", {"q": "matcha"}).content.decode()
    client.force_login(UserFactory())
    second = client.get("/products/", {"q": "yuzu"}, HTTP_ACCEPT_LANGUAGE="zh-hans")

    html = second.content.decode()
    assert 'value="matcha"' in first
    assert 'value="yuzu"' in html
    assert 'placeholder="Search products"' in first
    assert 'placeholder="搜索商品"' in html
    assert "Log in" in first
    assert "Log in" not in html
    assert f'value="{second.context["csrf_token"]}"' in html  # this session's own token


def test_a_request_context_renders_through_it():
    request = RequestFactory().get("/")
    template = _template("{% per_language %}<p>{% translate 'Search' %}</p>{% endper_language %}")

    with translation.override("en"):
        assert template.render({}, request) == "<p>Search</p>"
