"""Calibration forms: input shape only; the rules live in ``calibration.services``."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    DateTimeLocalField,
    FloatField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from calibration.models import CaseSource, RootCause
from rollcal.forms import MultiCheckboxField, TextAreaField, choices

LEVEL_CHOICES = choices(
    [("nominal", "Nominal (unordered categories)"), ("ordinal", "Ordinal (an ordered scale)")]
)


class SessionForm(FlaskForm):
    """A calibration session: what is labelled, by when, and how results are judged."""

    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(
        "Instructions for raters",
        validators=[Optional()],
        description="Shown to raters above every case.",
    )
    rollout = SelectField(
        "Rollout",
        coerce=int,
        description="The rollout whose readiness gate this session feeds; its policy version "
        "and thresholds are used unless you set others.",
    )
    policy_version = SelectField("Policy version", coerce=int)
    label_options = TextAreaField(
        "Label options",
        validators=[Optional()],
        description="One per line, in order: key | name | description (2 to 9 options), "
        "optionally | severity | enforcement order. "
        "Leave empty to copy them from the policy version.",
    )
    label_level = SelectField("Scale", choices=LEVEL_CHOICES)
    opens_at = DateTimeLocalField(
        "Opens at",
        validators=[Optional()],
        description="In your time zone. Leave empty to open it by hand.",
    )
    closes_at = DateTimeLocalField(
        "Closes at",
        validators=[Optional()],
        description="In your time zone. Labels can be changed until then.",
    )
    alpha_threshold = FloatField(
        "Alpha threshold",
        validators=[Optional(), NumberRange(min=0.01, max=1)],
        description="Krippendorff's alpha below this is flagged as misaligned; blank: the "
        "rollout's threshold, or the configured default.",
    )
    accuracy_target = FloatField(
        "Accuracy target",
        validators=[Optional(), NumberRange(min=0.01, max=1)],
        description="Share of labels matching golden answers; blank: the rollout's target, "
        "or the configured default.",
    )
    version = HiddenField()
    submit = SubmitField("Save session")


class HumanRaterForm(FlaskForm):
    """Add a QA lead as a rater for one of their vendor's sites."""

    person = SelectField("QA lead", coerce=int)
    site = SelectField("Labels for site", coerce=int)
    submit = SubmitField("Add rater")


class ModelRaterForm(FlaskForm):
    """Add a model as a rater."""

    model_name = StringField("Model name", validators=[DataRequired(), Length(max=120)])
    model_version = StringField("Version", validators=[DataRequired(), Length(max=60)])
    submit = SubmitField("Add model")


class UploadForm(FlaskForm):
    """A CSV file to import."""

    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file.")])
    submit = SubmitField("Import")


class GoldenForm(FlaskForm):
    """A case's golden answer and why."""

    golden_label = SelectField("Golden label")
    golden_rationale = TextAreaField("Rationale", validators=[Optional()])
    submit = SubmitField("Save golden answer")


class CaseForm(FlaskForm):
    """A case of a draft session: what raters read, and its golden answer."""

    content_text = TextAreaField(
        "Text", validators=[Optional()], description="What raters read; or give a link."
    )
    content_url = StringField(
        "Link to the content", validators=[Optional(), Length(max=500)], description="Optional."
    )
    golden_label = SelectField("Golden label")
    golden_rationale = TextAreaField("Rationale", validators=[Optional()])
    version = HiddenField()
    submit = SubmitField("Save case")


class LabelForm(FlaskForm):
    """The option a rater chose for a case (sent by the option's button) and a comment."""

    option = StringField("Label")
    comment = TextAreaField("Comment (optional)", validators=[Optional(), Length(max=2000)])


class FlagForm(FlaskForm):
    """Triage a flag."""

    status = SelectField(
        "Status",
        choices=choices(
            [("open", "Open"), ("acknowledged", "Acknowledged"), ("resolved", "Resolved")]
        ),
    )
    cause = SelectField(
        "Kind of root cause",
        choices=choices([("", "Choose when resolving…")] + [(c.value, c.title) for c in RootCause]),
        validators=[Optional()],
        description="Needed to resolve the flag; a cause that recurs at the vendor is linked.",
    )
    root_cause = TextAreaField(
        "Root cause", validators=[Optional()], description="Needed to resolve the flag."
    )
    action = TextAreaField(
        "Action taken", validators=[Optional()], description="Needed to resolve the flag."
    )
    version = HiddenField()
    submit = SubmitField("Save")


class FlagOwnerForm(FlaskForm):
    """Who owns a finding, and by when."""

    owner = SelectField("Owner", validators=[Optional()])
    due_date = DateField("Due", validators=[Optional()])
    version = HiddenField()
    submit = SubmitField("Save owner and due date")


class FlagActionForm(FlaskForm):
    """A new action item of a finding."""

    text = StringField("New action item", validators=[Optional()], render_kw={"maxlength": 500})
    submit = SubmitField("Add action")


class ScheduleForm(FlaskForm):
    """Recurring calibration: what is calibrated, by whom, how often, on which cases."""

    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    policy_version = SelectField("Policy version", coerce=int)
    sites = MultiCheckboxField(
        "Sites whose QA leads rate",
        coerce=int,
        description="Every active QA lead of a chosen site's vendor rates for that site.",
    )
    cadence_days = IntegerField(
        "Every (days)", validators=[Optional()], description="For example 14: every two weeks."
    )
    open_days = IntegerField(
        "Open for (days)", validators=[Optional()], description="How long each round stays open."
    )
    next_run_at = DateTimeLocalField(
        "Next round opens at",
        validators=[Optional()],
        description="In your time zone. The round is created as a draft a day before.",
    )
    source = RadioField(
        "Cases",
        choices=choices((source.value, source.title) for source in CaseSource),
        default=CaseSource.CONTESTED.value,
    )
    source_session = SelectField(
        "Session to copy", coerce=int, description="For a copy of a previous session's cases."
    )
    contested_count = IntegerField(
        "How many contested cases",
        validators=[Optional()],
        default=20,
        description="For the most contested cases: the cases whose labels split the most.",
    )
    contested_rounds = IntegerField(
        "From the last (revealed rounds)", validators=[Optional()], default=3
    )
    cases_file = FileField(
        "Cases CSV",
        description="For a CSV: the columns of the cases import. On edit, leave empty to keep "
        "the file already uploaded.",
    )
    version = HiddenField()
    submit = SubmitField("Save schedule")
