"""Rollout forms: input shape only; the rules live in ``rollout.services``."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    FloatField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    URLField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from rollcal import config
from rollcal.forms import MultiCheckboxField, TextAreaField, choices
from rollout.models import Category, ItemStatus, Side


class PolicyForm(FlaskForm):
    """A new policy."""

    code = StringField(
        "Code",
        validators=[DataRequired(), Length(max=40)],
        description="Short and unique, e.g. SHOP-CF.",
    )
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    area = StringField(
        "Policy area",
        validators=[DataRequired(), Length(max=120)],
        description="e.g. Counterfeit goods, Dangerous activities.",
    )
    line_of_business = SelectField("Line of business", coerce=int)
    description = TextAreaField(
        "Description", validators=[Optional()], description="What the policy covers (optional)."
    )
    submit = SubmitField("Create policy")


class PolicyEditForm(FlaskForm):
    """A policy's title, area and description (its code stays: documents cite it)."""

    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    area = StringField("Policy area", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(
        "Description", validators=[Optional()], description="What the policy covers (optional)."
    )
    version = HiddenField()
    submit = SubmitField("Save policy")


class VersionForm(FlaskForm):
    """A new version of a policy."""

    version_label = StringField(
        "Version", validators=[DataRequired(), Length(max=40)], description="e.g. v2.1"
    )
    change_summary = TextAreaField("What changed", validators=[DataRequired()])
    effective_date = DateField("Effective date", validators=[InputRequired()])
    document_url = URLField("Policy document link", validators=[Optional(), Length(max=500)])
    label_options = TextAreaField(
        "Label options for calibration",
        validators=[DataRequired()],
        description="One per line, in order: key | name | description, then optionally "
        "| severity (harm weight, 0 for none) | enforcement order (0 no action, higher "
        "stronger). For example: violating | Violating | Counterfeit offered for sale | 3 | 2",
    )
    label_level = SelectField(
        "Scale",
        choices=choices([("nominal", "Nominal (categories)"), ("ordinal", "Ordinal (ordered)")]),
    )
    version = HiddenField()
    model_gate_min_severity = FloatField(
        "Model gate: labels of severity at least",
        validators=[Optional()],
        description="Leave both model gate fields empty to require no model gate.",
    )
    model_gate_fnr_target = FloatField(
        "Model gate: false-negative rate below",
        validators=[Optional()],
        description="A share, e.g. 0.05 for 5%: the upper end of the model's 95% interval "
        "must be below it on each of those labels.",
    )
    submit = SubmitField("Add version")


class ModelGateForm(FlaskForm):
    """The model gate a policy version requires (both empty: none)."""

    min_severity = FloatField("Labels of severity at least", validators=[Optional()])
    fnr_target = FloatField(
        "False-negative rate below",
        validators=[Optional()],
        description="A share, e.g. 0.05 for 5%.",
    )
    submit = SubmitField("Save model gate")


class BindModelGateForm(FlaskForm):
    """Bind a checklist step to the model gate of a model version."""

    step = SelectField("Checklist step", coerce=int)
    model_version = SelectField("Model version", coerce=int)
    submit = SubmitField("Bind to the model gate")


class VersionStatusForm(FlaskForm):
    """Move a version to another status."""

    status = SelectField(
        "Status",
        choices=choices(
            [
                ("draft", "Draft"),
                ("rolling_out", "Rolling out"),
                ("live", "Live"),
                ("retired", "Retired"),
            ]
        ),
    )
    submit = SubmitField("Change status")


class RolloutForm(FlaskForm):
    """A new rollout: version, template, sites and go-live date."""

    policy_version = SelectField("Policy version", coerce=int)
    template = SelectField("Checklist template", coerce=int)
    go_live_date = DateField("Go-live date", validators=[InputRequired()])
    sites = MultiCheckboxField("Sites", coerce=int)
    alpha_threshold = FloatField(
        "Alpha threshold",
        default=config.alpha_threshold,
        validators=[InputRequired(), NumberRange(0.01, 1)],
        description=f"Krippendorff's alpha a site must reach ({config.ALPHA_RELIABLE:.3f} "
        "is reliable).",
    )
    accuracy_target = FloatField(
        "Accuracy target",
        default=config.accuracy_target,
        validators=[InputRequired(), NumberRange(0.01, 1)],
        description="Share of golden answers a site must match.",
    )
    gate_uses_lower_bound = BooleanField(
        "Gate on the lower end of alpha's 95% interval",
        description="Stricter: the evidence, not just the estimate, must reach the threshold.",
    )
    submit = SubmitField("Create rollout")


class ItemForm(FlaskForm):
    """Change a checklist item; ``version`` is the version the person saw."""

    version = HiddenField()
    status = SelectField("Status", choices=choices((s.value, s.title) for s in ItemStatus))
    reason = StringField("Reason (blocked or not applicable)", validators=[Length(max=500)])
    evidence_url = URLField("Evidence link", validators=[Optional(), Length(max=500)])
    evidence_note = TextAreaField("Evidence note")
    comment = TextAreaField("Comment", description="Added to the thread below.")
    submit = SubmitField("Save")


class NotApplicableDecisionForm(FlaskForm):
    """A POM's answer to a vendor's request that a required step be not applicable."""

    version = HiddenField()
    reason = TextAreaField(
        "Reason (needed to refuse)",
        validators=[Length(max=500)],
        description="The vendor reads it in the item's history.",
    )
    approve = SubmitField("Approve: not applicable")
    refuse = SubmitField("Refuse: the step applies")


class CommentForm(FlaskForm):
    """A comment on an item."""

    body = TextAreaField(
        "Comment",
        validators=[DataRequired()],
        description="Mention someone with @ and their e-mail address; they are told if "
        "they may see this item.",
    )
    submit = SubmitField("Add comment")


class AssigneeForm(FlaskForm):
    """Reassign an item."""

    assignee = SelectField("Assignee", coerce=int)
    submit = SubmitField("Reassign")


class GoLiveForm(FlaskForm):
    """Move a rollout's go-live date."""

    go_live_date = DateField("New go-live date", validators=[InputRequired()])
    reason = StringField(
        "Why",
        validators=[Length(max=300)],
        description="Required: the activity and everyone told read it.",
    )
    submit = SubmitField("Move go-live")


class BulkForm(FlaskForm):
    """Mark one POM-side step done at several sites."""

    step = SelectField("Step", coerce=int)
    sites = MultiCheckboxField("Sites", coerce=int)
    evidence_url = URLField("Evidence link", validators=[Optional(), Length(max=500)])
    evidence_note = StringField("Evidence note", validators=[Length(max=500)])
    submit = SubmitField("Mark done at chosen sites")


class OverrideForm(FlaskForm):
    """Mark a site ready despite open items, with a justification."""

    justification = TextAreaField(
        "Justification",
        validators=[DataRequired()],
        description="Shown wherever this site's readiness is shown.",
    )
    submit = SubmitField("Mark ready by override")


class CancelForm(FlaskForm):
    """Cancel a rollout."""

    reason = StringField("Reason", validators=[DataRequired(), Length(max=500)])
    submit = SubmitField("Cancel rollout")


class TemplateForm(FlaskForm):
    """A checklist template's name and description."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("Description")
    copy_from = SelectField("Start from the steps of", coerce=int)
    active = BooleanField("Offered for new rollouts", default=True)
    submit = SubmitField("Save template")


class TemplateItemForm(FlaskForm):
    """A step of a checklist template."""

    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description")
    category = SelectField(
        "Category",
        choices=choices((c.value, c.value.replace("_", " ").capitalize()) for c in Category),
    )
    side = SelectField(
        "Who does it",
        choices=choices((s.value, "POM" if s == Side.POM else "Vendor QA lead") for s in Side),
    )
    due_offset_days = IntegerField(
        "Due, days before go-live", default=7, validators=[InputRequired(), NumberRange(0, 365)]
    )
    required = BooleanField("Required for readiness", default=True)
    evidence_required = BooleanField("Evidence required to mark done")
    gate = BooleanField("Calibration gate (follows calibration results)")
    submit = SubmitField("Save step")


class SignOffRequestForm(FlaskForm):
    """Ask stakeholders to sign off."""

    stakeholders = MultiCheckboxField("Stakeholders", coerce=int)
    message = TextAreaField("Message", description="What you want them to look at, if anything.")
    submit = SubmitField("Request sign-off and freeze the report")


class DecisionForm(FlaskForm):
    """A stakeholder's decision."""

    decision = RadioField(
        "Decision",
        choices=choices([("approve", "Approve go-live"), ("reject", "Reject")]),
        validators=[DataRequired()],
    )
    comment = TextAreaField("Comment", description="Required when you reject.")
    submit = SubmitField("Record my decision")


class VerifyForm(FlaskForm):
    """Upload a PDF to check."""

    file = FileField("Report PDF", validators=[FileRequired()])
    submit = SubmitField("Verify")
