"""Forms of the AI model pages: input shape only; the rules live in ``model_services``."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from rollcal.forms import TextAreaField


class ModelForm(FlaskForm):
    """A new model."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    owner = StringField(
        "Owner",
        validators=[Optional(), Length(max=120)],
        description="The team that trains and runs it.",
    )
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Add model")


class VersionForm(FlaskForm):
    """A new version of a model."""

    version = StringField(
        "Version", validators=[DataRequired(), Length(max=60)], description="e.g. 2.5"
    )
    notes = TextAreaField("What changed", validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Add version")


class TokenForm(FlaskForm):
    """A new service token of a model."""

    name = StringField(
        "Token name",
        validators=[DataRequired(), Length(max=120)],
        default="Labelling",
        description="Where it is used, e.g. the labelling pipeline.",
    )
    submit = SubmitField("Create token")


class JoinSessionForm(FlaskForm):
    """Make a version a rater of a session (a replay when the session is revealed)."""

    session = SelectField("Session", coerce=int)
    submit = SubmitField("Add as a rater")


class ReplayLabelsForm(FlaskForm):
    """A CSV of the version's labels on one session."""

    file = FileField("Labels file (CSV)", validators=[FileRequired()])
    submit = SubmitField("Import labels")
