"""Helpers shared by the browser journeys (fixtures live in conftest.py)."""

import io
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "Trace-every-unit-42"
SCREENSHOTS = Path(settings.VAR_DIR) / "screenshots"


def screenshot(page: Page, name: str) -> None:
    """A full-page picture for people to look at (var/ is gitignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def assert_no_horizontal_scroll(page: Page) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"page is {widths[0]}px wide in a {widths[1]}px viewport"


def png_upload(name: str, color: tuple[int, int, int]) -> io.BytesIO:
    """A 600x600 product photo stand-in: a coloured bottle shape on a light background."""
    img = Image.new("RGB", (600, 600), (244, 241, 236))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((210, 170, 390, 520), radius=40, fill=color)
    draw.rectangle((265, 90, 335, 175), fill=(60, 60, 60))
    out = io.BytesIO()
    img.save(out, format="PNG")
    out.seek(0)
    out.name = name
    return out


def login(page: Page, *, email: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password:", exact=True).fill(password)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("link", name="My account")).to_be_visible()


def user_create(email: str):
    from accounts.models import User
    from accounts.services import buyer_profile_get_or_create

    # No service creates users (allauth's signup does); the manager is the supported path.
    user = User.objects.create_user(email=email, password=PASSWORD)
    buyer_profile_get_or_create(user=user)
    return user


def verified_buyer(email: str):
    from allauth.account.models import EmailAddress

    user = user_create(email)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


def approved_merchant(*, name: str, licence: str, staff_email: str, actor):
    from accounts.services import merchant_apply, merchant_approve

    staff = verified_buyer(staff_email)
    merchant = merchant_apply(
        applicant=staff,
        name=name,
        country="JP",
        licence_number=licence,
        licence_document=ContentFile(b"%PDF-1.4\n% licence\n", name="licence.pdf"),
        contact_name="Aiko Tanaka",
        contact_email=staff_email,
        contact_phone="+81312345678",
    )
    return merchant_approve(merchant=merchant, actor=actor)
