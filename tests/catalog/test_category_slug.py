import pytest

from catalog import services


@pytest.mark.django_db
def test_a_chinese_only_category_name_gets_a_web_address():
    first = services.category_create(name="护肤", name_zh="护肤")
    second = services.category_create(name="彩妆", name_zh="彩妆")
    assert (first.slug, second.slug) == ("category", "category-2")


@pytest.mark.django_db
def test_a_latin_name_is_slugged_and_kept_unique():
    first = services.category_create(name="Skin care")
    second = services.category_create(name="Skin care", parent=first)
    assert (first.slug, second.slug) == ("skin-care", "skin-care-2")
