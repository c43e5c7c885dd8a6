"""Forms of the organisation's admin pages: input shape only; the rules live in
``rollcal.org.services``."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from rollcal.forms import MultiCheckboxField, choices
from rollcal.org.models import Region


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
