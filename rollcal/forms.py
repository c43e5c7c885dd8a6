"""What forms of every room share: choices, checkbox lists, errors from services, the
confirm button."""

import wtforms
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length
from wtforms.widgets import CheckboxInput, ListWidget

from rollcal.errors import DomainError, ValidationError, refusal
from rollcal.inputs import LONG_TEXT
from rollcal.timefmt import zone_groups


def choices(pairs) -> list[SelectChoice]:
    """Options for a select field from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes: easier by keyboard than a multi-select."""

    widget = ListWidget(html_tag="ul", prefix_label=False)
    option_widget = CheckboxInput()


class TextAreaField(wtforms.TextAreaField):
    """WTForms' text area with a ceiling on its length (``LONG_TEXT`` unless given)."""

    def __init__(self, label=None, validators=None, *, max_length: int = LONG_TEXT, **kwargs):
        super().__init__(label, [*(validators or []), Length(max=max_length)], **kwargs)


def timezone_choices() -> list[SelectChoice]:
    """The time-zone picker: common zones first, then each region's cities (optgroups).

    A zone appears twice when it is common; the picker's value is the zone either way."""
    return [
        SelectChoice(zone, label, optgroup=group)
        for group, options in zone_groups()
        for zone, label in options
    ]


TIMEZONE_CHOICES = timezone_choices()


def apply_errors(form: FlaskForm, error: DomainError) -> None:
    """Show a service's refusal on the form: a ``ValidationError`` beside each field it
    names, anything else above the form. What the refused action changed is dropped."""
    refusal(error)
    if not isinstance(error, ValidationError):
        form.form_errors.append(error.message)
        return
    for item in error.errors:
        field = getattr(form, item["field"], None)
        if field is not None:
            field.errors = [*field.errors, item["message"]]
        else:
            form.form_errors.append(item["message"])


class ConfirmForm(FlaskForm):
    """An empty form: a button that posts with a CSRF token."""

    submit = SubmitField("Confirm")
