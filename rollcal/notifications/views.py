"""Notification pages: the list behind the bell, preferences, and the admin's outbox."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from rollcal import uow
from rollcal.errors import ValidationError
from rollcal.extensions import db
from rollcal.forms import ConfirmForm
from rollcal.inputs import local_path, page_arg
from rollcal.notifications import mail
from rollcal.notifications import services as notifications
from rollcal.notifications.models import Delivery, choices_for
from rollcal.permissions import Action, requires

bp = Blueprint("notifications", __name__)

# The stored HTML of an e-mail is shown in a sandboxed frame with a policy of its own:
# e-mail HTML needs inline style, which rollcal's own pages never allow.
EMAIL_PREVIEW_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
# The list shows this many of a grouped notification's entries; its own page shows all.
LIST_ENTRIES = 8


def _page(statement):
    return db.paginate(
        statement,
        page=page_arg(),
        per_page=current_app.config["ROLLCAL_PAGE_SIZE"],
        error_out=False,
    )


def _safe_next(target: str | None) -> str:
    """Where to go back to: a path on this site only, never another site."""
    return local_path(target) or url_for("notifications.index")


@bp.get("/notifications")
@login_required
def index():
    """The signed-in person's notifications, unread first."""
    page = _page(notifications.notifications_of(current_user))
    return render_template(
        "notifications/index.html", page=page, form=ConfirmForm(), entry_limit=LIST_ENTRIES
    )


@bp.get("/notifications/bell")
def bell():
    """The bell alone, for the top bar to refresh itself (htmx, every minute and when the
    tab comes back into view). A read: it never commits, and a signed-out browser gets no
    content rather than the sign-in page inside its top bar."""
    if not current_user.is_authenticated:
        return "", 204
    response = make_response(
        render_template("notifications/_bell.html", unread=notifications.unread_count(current_user))
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/notifications/<int:notification_id>")
@login_required
def show(notification_id: int):
    """One notification with everything it lists (a day's reminders: each item, its site
    and rollout). Reading it here does not mark it read; opening its title does."""
    notification = notifications.get_notification(current_user, notification_id)
    return render_template("notifications/show.html", notification=notification, form=ConfirmForm())


@bp.get("/notifications/<int:notification_id>/open")
@uow.commits_on_read
@login_required
def open_notification(notification_id: int):
    """Go to what a notification is about, marking it read on the way: a plain link, so it
    opens in a new tab and can be shared (someone else following it gets a 404)."""
    notification = notifications.get_notification(current_user, notification_id)
    notifications.mark_read(current_user, notification)
    return redirect(_safe_next(notification.link))


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def mark_read(notification_id: int):
    """Mark one notification read and stay on the list."""
    notification = notifications.get_notification(current_user, notification_id)
    notifications.mark_read(current_user, notification)
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/notifications/read-all")
@login_required
def mark_all_read():
    """Mark every notification of the signed-in person read."""
    count = notifications.mark_all_read(current_user)
    flash(f"Marked {count} notification{'s' if count != 1 else ''} read.", "success")
    return redirect(url_for("notifications.index"))


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    """How the signed-in person gets each kind of notification."""
    form = ConfirmForm()
    chosen = notifications.preferences_for(current_user)
    errors: dict[str, str] = {}
    status = 200
    if form.validate_on_submit():
        try:
            notifications.save_preferences(current_user, request.form.to_dict())
        except ValidationError as error:
            errors = {item["field"]: item["message"] for item in error.errors}
            chosen.update(
                {
                    kind: Delivery(request.form[kind.value])
                    for kind in chosen
                    if request.form.get(kind.value) in set(Delivery)
                }
            )
            status = 422
        else:
            flash("Your notification preferences are saved.", "success")
            return redirect(url_for("notifications.preferences"))
    return render_template(
        "notifications/preferences.html",
        form=form,
        chosen=chosen,
        errors=errors,
        choices_for=choices_for,
        smtp=mail.smtp_configured(current_app.config),
    ), status


@bp.get("/admin/outbox")
@login_required
@requires(Action.READ_OUTBOX)
def outbox():
    """Every e-mail rollcal made, newest first; without SMTP this is where they stay."""
    page = _page(notifications.outbox())
    return render_template(
        "notifications/outbox.html", page=page, smtp=mail.smtp_configured(current_app.config)
    )


@bp.get("/admin/outbox/<int:email_id>")
@login_required
@requires(Action.READ_OUTBOX)
def email(email_id: int):
    """One e-mail: its headers, its plain text, and its HTML as the recipient sees it."""
    message = notifications.get_email(email_id)
    return render_template("notifications/email.html", message=message)


@bp.get("/admin/outbox/<int:email_id>/html")
@login_required
@requires(Action.READ_OUTBOX)
def email_html(email_id: int):
    """The HTML body alone, for the sandboxed frame on the e-mail's page."""
    message = notifications.get_email(email_id)
    response = make_response(message.html_body)
    response.headers["Content-Security-Policy"] = EMAIL_PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
