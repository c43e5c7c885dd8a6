"""Signing in and out, one's own account, and personal API tokens."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from rollcal.accounts import links, services
from rollcal.accounts.forms import (
    ChoosePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    PasswordForm,
    ProfileForm,
    TokenForm,
)
from rollcal.accounts.models import LinkPurpose
from rollcal.errors import ValidationError, refusal
from rollcal.extensions import limiter
from rollcal.forms import ConfirmForm, apply_errors
from rollcal.inputs import local_path

bp = Blueprint("auth", __name__)


def _login_email() -> str:
    return (request.form.get("email") or "").strip().lower()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["ROLLCAL_LOGIN_LIMIT"],
    methods=["POST"],
    error_message="Too many sign-in attempts from your address. Wait a minute and try again.",
)
# Per account too, wherever the attempts come from; only failed attempts count, so a
# person who signs in is not slowed by their own earlier typos once they succeed.
@limiter.limit(
    lambda: current_app.config["ROLLCAL_LOGIN_ACCOUNT_LIMIT"],
    methods=["POST"],
    key_func=lambda: f"account:{_login_email()}",
    exempt_when=lambda: not _login_email(),
    deduct_when=lambda response: response.status_code != 302,
    error_message="Too many failed sign-in attempts for this account. Please try again later.",
)
def login():
    """Sign in; inactive people and wrong passwords get the same message."""
    if current_user.is_authenticated:
        return redirect(url_for("org.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            form.form_errors.append("E-mail or password is not right.")
        elif not user.active:
            form.form_errors.append("This account is deactivated. Ask an admin to restore it.")
        else:
            login_user(user)
            return redirect(local_path(request.args.get("next")) or url_for("org.home"))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    """Sign out."""
    ConfirmForm().validate_on_submit()
    services.end_sessions(current_user)
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    """One's own name, time zone and password."""
    profile = ProfileForm(obj=current_user, prefix="profile")
    password = PasswordForm(prefix="password")
    if profile.submit.data and profile.validate_on_submit():
        try:
            services.update_profile(
                current_user, name=profile.name.data, timezone=profile.timezone.data
            )
        except ValidationError as error:
            apply_errors(profile, error)
        else:
            flash("Your profile is saved.", "success")
            return redirect(url_for("auth.account"))
    if password.submit.data and password.validate_on_submit():
        try:
            services.change_password(
                current_user, current=password.current_password.data, new=password.new_password.data
            )
        except ValidationError as error:
            apply_errors(password, error)
        else:
            # The change ended every session, this one included: sign this browser in
            # again under the new generation.
            login_user(current_user._get_current_object())
            flash("Your password is changed. You are signed out everywhere else.", "success")
            return redirect(url_for("auth.account"))
    return render_template("auth/account.html", profile=profile, password=password)


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    """List, create and revoke one's own API tokens; a new token is shown once."""
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        _, new_token = services.create_token(current_user, form.name.data)
        form = TokenForm(formdata=None)
    return render_template(
        "auth/tokens.html", form=form, new_token=new_token, revoke_form=ConfirmForm()
    )


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """Revoke one of one's own tokens."""
    if ConfirmForm().validate_on_submit():
        token = services.revoke_token(current_user, token_id)
        flash(f"Token “{token.name}” is revoked.", "success")
    return redirect(url_for("auth.tokens"))


# Invitations and password resets -----------------------------------------------------

NEUTRAL_RESET_ANSWER = (
    "If an account uses that address, a link to choose a new password is on its way to it. "
    "The link works once, for a short while; if nothing arrives, check the address and ask "
    "again, or ask an admin."
)


def _forgot_email() -> str:
    return (request.form.get("email") or "").strip().lower()


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["ROLLCAL_RESET_LIMIT"],
    methods=["POST"],
    error_message="Too many requests from your address. Wait a minute and try again.",
)
# Per address asked for too, wherever the requests come from, so nobody can fill a
# person's inbox. Every request counts, whether or not an account uses the address.
@limiter.limit(
    lambda: current_app.config["ROLLCAL_RESET_ACCOUNT_LIMIT"],
    methods=["POST"],
    key_func=lambda: f"reset:{_forgot_email()}",
    exempt_when=lambda: not _forgot_email(),
    error_message="Too many links were asked for this address. Please try again later.",
)
def forgot_password():
    """Ask for a reset link; the answer is the same whether or not the address is known."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        links.request_password_reset(form.email.data)
        flash(NEUTRAL_RESET_ANSWER, "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form)


def _choose_password(token: str, purpose: LinkPurpose, welcome: str):
    """The page of a one-time link: choose a password, then be signed in."""
    try:
        link = links.open_link(token, purpose)
    except links.LinkUnusable as error:
        return _unusable(error)
    form = ChoosePasswordForm()
    if form.validate_on_submit():
        try:
            user = links.choose_password(token, purpose, form.password.data)
        except links.LinkUnusable as error:
            return _unusable(error)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            login_user(user)
            flash(welcome, "success")
            return redirect(url_for("org.home"))
    return render_template(
        "auth/choose_password.html", form=form, purpose=purpose, person=link.user
    )


def _unusable(error: links.LinkUnusable):
    refusal(error)
    return render_template(
        "auth/link_unusable.html", error=error, purpose=error.purpose
    ), error.status


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    """An invited person chooses their password and is signed in."""
    return _choose_password(
        token, LinkPurpose.INVITATION, "Welcome to rollcal. Your password is set."
    )


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """A person who forgot their password chooses a new one; their other sessions end."""
    return _choose_password(
        token,
        LinkPurpose.PASSWORD_RESET,
        "Your new password is set. You are signed out everywhere else.",
    )
