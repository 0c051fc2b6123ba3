"""PDF renderers: pure functions from plain data (domain.documents) to bytes."""

from documents.labels import render_label
from documents.packing_slip import render_packing_slip
from documents.qr import draw_qr

__all__ = ["draw_qr", "render_label", "render_packing_slip"]
