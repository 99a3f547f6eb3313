"""Quote PDFs with WeasyPrint, which lays out the same HTML and CSS as the print view
(CSS paged media: A4, margins, a running header) and shapes Chinese through Pango with the
system's CJK fonts (fonts-wqy-microhei, Noto CJK …).

Why WeasyPrint: it is maintained, pure Python on top of Pango, renders our own template
(one layout for screen print and PDF), and embeds subsetted CJK fonts. Its alternatives were
worse here: xhtml2pdf/ReportLab need every CJK font registered by hand and handle little
CSS; headless Chromium is a 300 MB browser process per PDF. WeasyPrint's cost is Pango from
the operating system (apt install libpango-1.0-0 libpangoft2-1.0-0 fonts-wqy-microhei):
where it is missing, `render_pdf` raises PdfUnavailable with that instruction and the
quote page says so; the HTML print view needs nothing and always works.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kehu.core.errors import DomainError


class PdfUnavailable(DomainError):
    code = "pdf_unavailable"
    status = 503
    default_message = _("PDF output needs the Pango library on the server (Debian/Ubuntu: "
                        "apt install libpango-1.0-0 libpangoft2-1.0-0 fonts-wqy-microhei). "
                        "Use the print view and your browser's “Save as PDF” meanwhile.")


def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """The PDF of an HTML page; PdfUnavailable when WeasyPrint or Pango cannot be loaded."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: Pango's shared library is missing
        raise PdfUnavailable(details={"reason": str(exc)[:200]}) from exc
    return weasyprint.HTML(string=html, base_url=base_url).write_pdf()
