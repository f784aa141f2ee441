"""Reads of the survey module: the questions a buyer is asked, a product's ratings block."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, Max

from catalog import selectors as catalog_selectors

from .models import RatingSummary, SurveyAnswer, SurveyInvitation, SurveyQuestion, SurveyResponse
from .services import invitation_id_from_token

RECENT_RATINGS = 10


def invitation_for_token(*, token: str) -> SurveyInvitation | None:
    """The invitation a signed token points at (one query); None if tampered or unknown."""
    invitation_id = invitation_id_from_token(token)
    if invitation_id is None:
        return None
    return SurveyInvitation.objects.select_related("product").filter(pk=invitation_id).first()


def survey_questions_for_product(*, product: Any) -> list[SurveyQuestion]:
    """The product's own active questions; else its merchant's defaults for the nearest category
    up the tree that has any (one or two queries)."""
    own = list(SurveyQuestion.objects.filter(product_id=product.pk, active=True))
    if own:
        return own
    chain = [n.id for n in catalog_selectors.category_tree().ancestors(product.category_id)]
    if not chain:
        return []
    found = list(
        SurveyQuestion.objects.filter(
            merchant_id=product.merchant_id, category_id__in=chain, active=True
        )
    )
    for category_id in reversed(chain):  # the nearest category with questions wins
        picked = [q for q in found if q.category_id == category_id]
        if picked:
            return picked
    return []


def survey_questions_for_invitation(*, invitation: SurveyInvitation) -> list[SurveyQuestion]:
    return survey_questions_for_product(product=invitation.product)


@dataclass(frozen=True)
class StarBar:
    stars: int
    count: int
    percent: int


@dataclass(frozen=True)
class QuestionAverage:
    prompt: str
    average: Decimal
    count: int


@dataclass(frozen=True)
class RatingRow:
    overall: int
    comment: str
    hidden: bool
    reply: str
    replied_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class ProductRatings:
    average: Decimal | None
    count: int
    bars: list[StarBar]
    questions: list[QuestionAverage]
    recent: list[RatingRow]


NO_RATINGS = ProductRatings(average=None, count=0, bars=[], questions=[], recent=[])


def product_ratings(*, product: Any, limit: int = RECENT_RATINGS) -> ProductRatings:
    """The product page's ratings block: average, count, 5→1 distribution, per-question
    averages and the latest ratings with the merchant's replies (three queries; none for a
    product whose summary, kept on its row, says it has no ratings)."""
    if not product.rating_count:
        return NO_RATINGS
    product_id = product.pk
    summary = RatingSummary.objects.filter(pk=product_id).first()
    count = summary.count if summary else 0
    bars = [
        StarBar(
            stars=n,
            count=(c := getattr(summary, f"stars_{n}") if summary else 0),
            percent=round(100 * c / count) if count else 0,
        )
        for n in range(5, 0, -1)
    ]
    average = (Decimal(summary.total) / count).quantize(Decimal("0.1")) if count else None
    per_question = (
        SurveyAnswer.objects.filter(product_id=product_id, stars__isnull=False)
        .values("question_id")
        .annotate(average=Avg("stars"), count=Count("pk"), prompt=Max("prompt"))
        .order_by("question_id")
    )
    questions = [
        QuestionAverage(
            prompt=row["prompt"],
            average=Decimal(str(row["average"])).quantize(Decimal("0.1")),
            count=row["count"],
        )
        for row in per_question
    ]
    recent = [
        RatingRow(*row)
        for row in SurveyResponse.objects.filter(product_id=product_id)
        .order_by("-id")
        .values_list("overall", "comment", "hidden", "reply", "replied_at", "created_at")[:limit]
    ]
    return ProductRatings(
        average=average, count=count, bars=bars, questions=questions, recent=recent
    )
