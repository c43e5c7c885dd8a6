"""Forms of the shell: input shape only; the rules live in ``rollcal.services``."""

import wtforms
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from rollcal.inputs import LONG_TEXT
from rollcal.org.models import Region, Role
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


def apply_errors(form: FlaskForm, error) -> None:
    """Show a service's ``ValidationError`` beside the field it names."""
    for item in error.errors:
        field = getattr(form, item["field"], None)
        if field is not None:
            field.errors = [*field.errors, item["message"]]
        else:
            form.form_errors.append(item["message"])


class LoginForm(FlaskForm):
    """Sign in with e-mail and password."""

    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254), Email()])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    submit = SubmitField("Sign in")


class PasswordForm(FlaskForm):
    """Change one's own password."""

    current_password = PasswordField(
        "Current password", validators=[DataRequired(), Length(max=200)]
    )
    new_password = PasswordField(
        "New password", validators=[DataRequired(), Length(min=10, max=200)]
    )
    submit = SubmitField("Change password")


class ProfileForm(FlaskForm):
    """One's own name and time zone."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    timezone = SelectField("Time zone", choices=TIMEZONE_CHOICES)
    submit = SubmitField("Save")


class TokenForm(FlaskForm):
    """Name a new API token."""

    name = StringField(
        "Token name",
        validators=[DataRequired(), Length(max=120)],
        description="Where you will use it, e.g. “labelling script”.",
    )
    submit = SubmitField("Create token")


class ConfirmForm(FlaskForm):
    """An empty form: a button that posts with a CSRF token."""

    submit = SubmitField("Confirm")


class MarketForm(FlaskForm):
    """A market."""

    code = StringField(
        "Code",
        validators=[DataRequired(), Length(min=2, max=8)],
        description="2 to 8 letters, such as ID or GB.",
    )
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    region = SelectField("Region", choices=choices((r.value, r.value) for r in Region))
    active = BooleanField("Active", default=True)
    submit = SubmitField("Save market")


class LineOfBusinessForm(FlaskForm):
    """A line of business."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    active = BooleanField("Active", default=True)
    submit = SubmitField("Save line of business")


class VendorForm(FlaskForm):
    """A vendor and the POMs who own it."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    owners = MultiCheckboxField("Owners (POMs)", coerce=int, validators=[Optional()])
    active = BooleanField("Active", default=True)
    submit = SubmitField("Save vendor")


class SiteForm(FlaskForm):
    """A site of a vendor and what it serves."""

    vendor = SelectField("Vendor", coerce=int)
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    city = StringField("City", validators=[DataRequired(), Length(max=120)])
    markets = MultiCheckboxField("Markets served", coerce=int)
    lines_of_business = MultiCheckboxField("Lines of business served", coerce=int)
    active = BooleanField("Active", default=True)
    submit = SubmitField("Save site")


class UserForm(FlaskForm):
    """A person, as an admin edits them."""

    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254), Email()])
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    # No default: a new person's role is always a choice the admin makes.
    role = SelectField(
        "Role",
        choices=choices([("", "Choose a role…"), *((r.value, r.title) for r in Role)]),
        validators=[DataRequired(message="Choose the person's role.")],
    )
    vendor = SelectField("Vendor (QA leads only)", coerce=int)
    timezone = SelectField("Time zone", choices=TIMEZONE_CHOICES, default="UTC")
    password = PasswordField(
        "Password",
        validators=[Optional(), Length(min=10)],
        description="At least 10 characters. Required for a new person.",
    )
    active = BooleanField("May sign in", default=True)
    submit = SubmitField("Save person")
