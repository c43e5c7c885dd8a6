"""E-mail: bodies rendered from templates, sent over SMTP with the settings of the app.

Nothing here touches the database; ``rollcal.notifications`` keeps the outbox and decides
what to send. Every message carries a plain-text body and an HTML alternative rendered
from ``templates/email/<name>.txt`` and ``.html``.
"""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid
from types import TracebackType

from flask import current_app

BLANK_RUNS = re.compile(r"\n{3,}")
SMTP_TIMEOUT = 30  # seconds; a stuck server must not hold a scheduler thread for ever


def smtp_configured(config) -> bool:
    """Whether SMTP settings are given (a host is enough; the rest have defaults)."""
    return bool(config.get("ROLLCAL_SMTP_HOST"))


def render(template: str, context: dict) -> tuple[str, str]:
    """The plain-text and HTML bodies of ``email/<template>``.

    Rendered straight from the Jinja environment, not ``render_template``: jobs have no
    request, and the page context processors (the signed-in person, CSRF) mean nothing
    in an e-mail. The HTML template is autoescaped by its extension; the text one is not.
    """
    environment = current_app.jinja_env
    text = environment.get_template(f"email/{template}.txt").render(context)
    html = environment.get_template(f"email/{template}.html").render(context)
    # Template tags leave blank lines behind; a reader of plain text wants one at most.
    lines = [line.rstrip() for line in text.strip().splitlines()]
    text = BLANK_RUNS.sub("\n\n", "\n".join(lines))
    return text + "\n", html


def build_message(*, sender: str, to: str, subject: str, text: str, html: str) -> MimeMessage:
    """A multipart/alternative message: plain text first, HTML as the preferred part."""
    message = MimeMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "rollcal.local")
    # RFC 3834: tells mail servers not to send out-of-office replies to rollcal.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


class Connection:
    """An SMTP connection opened on first use and closed at the end of a ``with`` block,
    so a run that has nothing to send never connects."""

    def __init__(self, config):
        self._config = config
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _open(self) -> smtplib.SMTP:
        config = self._config
        smtp = smtplib.SMTP(
            config["ROLLCAL_SMTP_HOST"], int(config["ROLLCAL_SMTP_PORT"]), timeout=SMTP_TIMEOUT
        )
        try:
            if config.get("ROLLCAL_SMTP_STARTTLS"):
                smtp.starttls()
            if config.get("ROLLCAL_SMTP_USER"):
                smtp.login(config["ROLLCAL_SMTP_USER"], config.get("ROLLCAL_SMTP_PASSWORD") or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: MimeMessage) -> None:
        """Send one message, connecting first if needed; a failed connection is dropped so
        the next attempt starts afresh."""
        if self._smtp is None:
            self._smtp = self._open()
        try:
            self._smtp.send_message(message)
        except (OSError, smtplib.SMTPServerDisconnected):
            self.close()
            raise

    def close(self) -> None:
        """Say goodbye to the server, if connected."""
        if self._smtp is None:
            return
        try:
            self._smtp.quit()
        except (OSError, smtplib.SMTPException):
            self._smtp.close()
        self._smtp = None
