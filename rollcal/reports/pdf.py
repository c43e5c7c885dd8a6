"""PDF rendering with WeasyPrint: only the app's own static files, and big jobs in a
child process. Which reports are rendered when is ``rollcal.reports.queue``'s business.
"""

from __future__ import annotations

import hashlib
import mimetypes
import multiprocessing
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import Response
from weasyprint import HTML, Attachment
from weasyprint.urls import URLFetcher, URLFetcherResponse

from rollcal.timefmt import format_on_document
from rollcal.types import utcnow

# Reports name their stylesheets and images under this base; the fetcher maps it onto the
# static folder and refuses every other address (no file://, no network).
STATIC_BASE = "https://rollcal.invalid/static/"


class StaticOnlyFetcher(URLFetcher):
    """A WeasyPrint URL fetcher that serves files of one folder and nothing else."""

    def __init__(self, static_folder: str | Path):
        super().__init__(allowed_protocols=("https", "data"))
        self._root = Path(static_folder).resolve()

    def fetch(self, url, headers=None):  # noqa: D102 - WeasyPrint's interface
        if url.startswith("data:"):
            # Inline content (the charts): decoded in memory, nothing is fetched.
            return super().fetch(url, headers)
        if not url.startswith(STATIC_BASE):
            raise ValueError(f"reports load only rollcal's own static files, not {url}")
        path = (self._root / url[len(STATIC_BASE) :].split("?")[0]).resolve()
        if self._root not in path.parents or not path.is_file():
            raise ValueError(f"no static file at {url}")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})


@dataclass(frozen=True)
class PdfAttachment:
    """A file embedded in the PDF (for example the data behind a report, as CSV)."""

    name: str
    content: bytes
    description: str = ""


def render_pdf(
    html: str,
    static_folder: str,
    *,
    attachments: tuple[PdfAttachment, ...] = (),
    pdf_variant: str | None = None,
) -> bytes:
    """The PDF of ``html``, in this process."""
    fetcher = StaticOnlyFetcher(static_folder)
    embedded = [
        Attachment(
            string=item.content, name=item.name, description=item.description, url_fetcher=fetcher
        )
        for item in attachments
    ]
    document = HTML(string=html, base_url=STATIC_BASE, url_fetcher=fetcher)
    return document.write_pdf(attachments=embedded or None, pdf_variant=pdf_variant)


def peak_memory_kib() -> int:
    """This process's peak resident memory so far, in KiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _child(connection, html, static_folder, attachments, pdf_variant) -> None:
    try:
        pdf = render_pdf(html, static_folder, attachments=attachments, pdf_variant=pdf_variant)
        connection.send(("ok", pdf, peak_memory_kib()))
    except Exception as error:  # the parent re-raises it with the message
        connection.send(("error", f"{type(error).__name__}: {error}", 0))
    finally:
        connection.close()


_context = multiprocessing.get_context("forkserver")
# "__main__" first: the fork server imports the main module once, so that each child need
# not import it again (multiprocessing otherwise re-runs it for every child).
_context.set_forkserver_preload(["__main__", "rollcal.reports.pdf", "rollcal.reports.pdf_warmup"])


def render_pdf_in_child(
    html: str,
    static_folder: str,
    *,
    attachments: tuple[PdfAttachment, ...] = (),
    pdf_variant: str | None = None,
    timeout: float = 300,
) -> bytes:
    """The PDF of ``html``, rendered in a short-lived child process.

    WeasyPrint holds on to memory after a large document; a child returns all of it to
    the system when it exits, so a web worker stays small. The fork server already has
    WeasyPrint imported, so a child starts in milliseconds.
    """
    return render_in_child_measured(
        html, static_folder, attachments=attachments, pdf_variant=pdf_variant, timeout=timeout
    )[0]


def render_in_child_measured(
    html: str,
    static_folder: str,
    *,
    attachments: tuple[PdfAttachment, ...] = (),
    pdf_variant: str | None = None,
    timeout: float = 300,
) -> tuple[bytes, int]:
    """``render_pdf_in_child``, also returning the child's peak memory in KiB."""
    receiver, sender = _context.Pipe(duplex=False)
    process = _context.Process(
        target=_child, args=(sender, html, static_folder, attachments, pdf_variant), daemon=True
    )
    process.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            raise RuntimeError(f"rendering the PDF took longer than {timeout:.0f} s")
        outcome, payload, peak_kib = receiver.recv()
    finally:
        receiver.close()
        process.join(5)
        if process.is_alive():
            process.kill()
    if outcome != "ok":
        raise RuntimeError(f"rendering the PDF failed: {payload}")
    return payload, peak_kib


@dataclass(frozen=True)
class ReportSource:
    """What a report is made of: HTML whose ``{{generated_at}}`` marker is filled in at
    render time, so that the cache key depends on the content alone."""

    kind: str
    subject_id: int
    title: str
    html: str
    audience: str = "all"
    attachments: tuple[PdfAttachment, ...] = ()
    pdf_variant: str | None = None

    GENERATED_MARKER = "%%GENERATED_AT%%"
    # The same marker naming the reader's zone: the time is written in it, and since the
    # zone is in the HTML each zone's copy has its own content key.
    ZONED_MARKER = re.compile(r"%%GENERATED_AT:([A-Za-z0-9_/+-]+)%%")

    @staticmethod
    def generated_marker(zone: str) -> str:
        """The marker for the time of generation, written in ``zone`` when rendered."""
        return f"%%GENERATED_AT:{zone}%%"

    @property
    def content_key(self) -> str:
        """The SHA-256 of everything that shapes the PDF except the time of generation."""
        digest = hashlib.sha256()
        for part in (
            self.kind,
            str(self.subject_id),
            self.audience,
            self.pdf_variant or "",
            self.html,
        ):
            digest.update(part.encode())
            digest.update(b"\0")
        for item in self.attachments:
            digest.update(item.name.encode() + b"\0" + item.content + b"\0")
        return digest.hexdigest()

    def final_html(self, at: datetime) -> str:
        """The HTML with the generation time written in (in the zone its marker names)."""
        html = self.html.replace(self.GENERATED_MARKER, at.strftime("%d %b %Y %H:%M UTC"))
        return self.ZONED_MARKER.sub(lambda found: format_on_document(at, found.group(1)), html)


# Documents larger than this are rendered in a child process; smaller ones cost less to
# render here than to hand to a child.
CHILD_THRESHOLD_BYTES = 40_000


def render_source(source: ReportSource, static_folder: str) -> bytes:
    """Render a report source now, without the cache (large ones in a child process)."""
    if len(source.html) < CHILD_THRESHOLD_BYTES:
        return render_pdf(
            source.final_html(utcnow()),
            static_folder,
            attachments=source.attachments,
            pdf_variant=source.pdf_variant,
        )
    return render_pdf_in_child(
        source.final_html(utcnow()),
        static_folder,
        attachments=source.attachments,
        pdf_variant=source.pdf_variant,
    )


def send_pdf(content: bytes, filename: str, *, sha256: str | None = None) -> Response:
    """A PDF download, its SHA-256 in a header so a copy can be checked."""
    response = Response(
        content,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
    if sha256:
        response.headers["X-Content-SHA256"] = sha256
    return response
