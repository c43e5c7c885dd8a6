"""Forms for signing in and one's own account: input shape only; the rules live in
``rollcal.accounts.services``."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from rollcal.accounts.models import Role
from rollcal.forms import TIMEZONE_CHOICES, choices


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
    active = BooleanField("May sign in", default=True)
    submit = SubmitField("Save person")


class InviteForm(UserForm):
    """A new person: the admin gives who they are, rollcal e-mails them an invitation to
    choose their own password."""

    active = None
    submit = SubmitField("Invite person")


class ChoosePasswordForm(FlaskForm):
    """Choose a password through an invitation or a reset link."""

    password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(max=200)],
        description="At least 10 characters.",
    )
    confirm = PasswordField(
        "New password again",
        validators=[
            DataRequired(),
            EqualTo("password", message="Type the same password twice."),
        ],
    )
    submit = SubmitField("Save password and sign in")


class ForgotPasswordForm(FlaskForm):
    """Ask for a link to choose a new password."""

    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254), Email()])
    submit = SubmitField("E-mail me a link")
