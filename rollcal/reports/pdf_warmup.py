"""Imported only by the PDF fork server: one tiny render loads fonts and Pango there, once,
so every child forked from it starts ready instead of paying for that on each report."""

from weasyprint import HTML

HTML(string="<p>rollcal</p>").write_pdf()
