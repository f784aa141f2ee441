"""The buyer's survey form: the mandatory overall rating, the merchant's questions, a comment."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import SurveyQuestion
from .states import QuestionKind

STAR_CHOICES = [
    ("5", _("5 stars: excellent")),
    ("4", _("4 stars: good")),
    ("3", _("3 stars: average")),
    ("2", _("2 stars: poor")),
    ("1", _("1 star: very poor")),
]


class SurveyForm(forms.Form):
    overall = forms.ChoiceField(
        label=_("Overall, how would you rate this product?"),
        choices=STAR_CHOICES,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Please choose an overall rating from 1 to 5 stars."),
            "invalid_choice": _("Please choose an overall rating from 1 to 5 stars."),
        },
    )
    comment = forms.CharField(
        label=_("Anything else you would like to tell other buyers? (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args: Any, questions: list[SurveyQuestion], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questions = questions
        for question in questions:
            name = f"q{question.pk}"
            if question.kind == QuestionKind.STARS:
                field: forms.Field = forms.ChoiceField(
                    choices=STAR_CHOICES,
                    widget=forms.RadioSelect,
                    error_messages={"invalid_choice": _("Choose from 1 to 5 stars.")},
                )
            elif question.kind == QuestionKind.CHOICE:
                field = forms.ChoiceField(
                    choices=[(c, c) for c in question.choice_list], widget=forms.RadioSelect
                )
            else:
                field = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
            field.label = question.prompt
            field.required = question.required
            field.kind = question.kind  # the template draws stars for star questions
            self.fields[name] = field

    def question_fields(self) -> list[forms.BoundField]:
        return [self[f"q{q.pk}"] for q in self.questions]

    def answers(self) -> dict[int, Any]:
        return {q.pk: self.cleaned_data.get(f"q{q.pk}") for q in self.questions}
