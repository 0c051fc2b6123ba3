"""Return labels rendered per second on one core: `render_label` (addresses,
Code 128, QR, text) over a bare reportlab 4x6 page carrying only the Code 128
of the same tracking number; then the packing slip's and each certificate's CPU
per render against the label's.

    .venv/bin/python bench/labels.py [--seconds 5] [--renders 200]

Both run in this one thread, interleaved in short slices so that other load on
the machine hits both alike. Rates are per CPU second of this thread (what one
core delivers); wall-clock rates are printed alongside. The packing slip (an
RMA's: two items, three instructions), the three certificates (shaped as a repair
job, a relocation and a plan's activation issue them) and the label are timed with
time.process_time over `--renders` renders each, in alternating rounds.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import sys
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reportlab.graphics.barcode.code128 import Code128
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.renderPDF import draw as render_drawing
from reportlab.graphics.shapes import Drawing
from reportlab.pdfgen.canvas import Canvas

from documents.certificates import (
    render_coverage_certificate,
    render_relocation_certificate,
    render_repair_certificate,
)
from documents.labels import render_label
from documents.packing_slip import render_packing_slip
from domain.common import Address
from domain.documents import (
    CertificatePart,
    ChecklistLine,
    CoverageCertificateData,
    LabelData,
    PackingSlipData,
    RelocationCertificateData,
    RepairCertificateData,
    SlipItem,
)

TARGET = 0.5
SLIP_TARGET = 1.0  # label ms / slip ms: a slip costs no more than a label
SLIP_ROUNDS = 5
PAGE = (288.0, 432.0)
SLICE = 0.5  # seconds per turn before the other contender runs
INPUTS = 2048

CUSTOMER = Address(
    name="Jane Q. Customer",
    line1="742 Evergreen Terrace",
    line2="Apt 3B",
    city="Springfield",
    region="IL",
    postal_code="62704",
    country="US",
)
RETURNS = Address(
    name="Returns Department",
    line1="1 Returns Way",
    line2="Dock 4",
    city="Springfield",
    region="OR",
    postal_code="97477",
    country="US",
)


def inputs(count: int) -> list[LabelData]:
    """Distinct tracking numbers and URLs, so nothing can be served from a cache."""
    labels = []
    for i in range(count):
        token = base64.urlsafe_b64encode(hashlib.sha256(str(i).encode()).digest())[:32]
        labels.append(
            LabelData(
                carrier="UPS",
                service="Ground",
                tracking_number=f"AS{1234567890123456 + i:016d}",
                case_number=f"RMA-2026-{i:06d}",
                from_address=CUSTOMER,
                to_address=RETURNS,
                tracking_url=f"http://127.0.0.1:8000/track/{token.decode()}",
                weight="2.4 kg",
            )
        )
    return labels


def slip_inputs(labels: list[LabelData]) -> list[PackingSlipData]:
    """One packing slip per label, shaped as domain.rma.packing_slip makes an RMA's."""
    return [
        PackingSlipData(
            case_number=label.case_number,
            order_ref=f"ORD-{88412 + i}",
            retailer_name="Acme Home Appliances",
            customer_first_name="Jane",
            items=[
                SlipItem(
                    sku="EM-400",
                    description="Espresso machine",
                    serial=f"SN{12345678 + i:010d}",
                    quantity=1,
                    reason="defective",
                ),
                SlipItem(
                    sku="TANK-2",
                    description="Water tank",
                    serial=f"SN{99887766 + i:010d}",
                    quantity=2,
                    reason="damaged_in_transit",
                ),
            ],
            tracking_number=label.tracking_number,
            ship_by="7 December 2026",
            instructions=[
                "Put this slip inside the parcel with the items listed.",
                "Stick the return label on the outside, covering any old labels.",
                "Hand the parcel to UPS by 7 December 2026.",
            ],
        )
        for i, label in enumerate(labels)
    ]


def repair_certificates(labels: list[LabelData]) -> list[RepairCertificateData]:
    """One Certificate of Repair per label: a job's two parts, its own verify URL."""
    return [
        RepairCertificateData(
            certificate_number=f"CR-2026-{i:06d}",
            job_number=f"JOB-2026-{i:06d}",
            retailer_name="Acme Home Appliances",
            repair_center_name="Northside Repair Center",
            customer_first_name="Jane",
            product_name="Espresso machine EM-400",
            sku="EM-400",
            serial=f"SN{12345678 + i:010d}",
            fault_code="F-PUMP-07",
            fault="Pump leaks under pressure",
            work_done="Replaced the pump and its gasket; descaled the boiler; pressure tested.",
            parts=[
                CertificatePart(part_no="P-1001", description="Vibration pump 15 bar", quantity=1),
                CertificatePart(part_no="G-0042", description="Pump gasket", quantity=2),
            ],
            qa_passed_on="7 December 2026",
            repair_warranty_until="7 March 2027",
            verification_code=label.tracking_number[-12:],
            verify_url=label.tracking_url.replace("/track/", "/v1/verify/"),
        )
        for i, label in enumerate(labels)
    ]


def relocation_certificates(labels: list[LabelData]) -> list[RelocationCertificateData]:
    """One Relocation & Installation Certificate per label: three short checklists."""
    return [
        RelocationCertificateData(
            certificate_number=f"RI-2026-{i:06d}",
            relocation_number=f"REL-2026-{i:06d}",
            retailer_name="Acme Home Appliances",
            provider_name="Metro Install Services",
            customer_first_name="Jane",
            product_name="Built-in oven BO-600",
            sku="BO-600",
            serial=f"SN{98765432 + i:010d}",
            from_site=CUSTOMER,
            to_site=RETURNS,
            technician="Sam Rivera",
            uninstalled_on="3 December 2026",
            delivered_on="5 December 2026",
            commissioned_on="7 December 2026",
            uninstall_checklist=[
                ChecklistLine(item="Power isolated", passed=True),
                ChecklistLine(item="Door secured for transport", passed=True, note="Taped"),
            ],
            reinstall_checklist=[
                ChecklistLine(item="Cabinet cut-out fits", passed=True),
                ChecklistLine(item="Anti-tip bracket fitted", passed=True),
            ],
            commissioning_checklist=[
                ChecklistLine(item="Reaches 200 C in 12 minutes", passed=True),
                ChecklistLine(item="Earth continuity test", passed=True, note="0.08 ohm"),
            ],
            verification_code=label.tracking_number[-12:],
            verify_url=label.tracking_url.replace("/track/", "/v1/verify/"),
        )
        for i, label in enumerate(labels)
    ]


def coverage_certificates(labels: list[LabelData]) -> list[CoverageCertificateData]:
    """One Certificate of Coverage per label: two deductibles, three covered incidents."""
    return [
        CoverageCertificateData(
            certificate_number=f"CC-2026-{i:06d}",
            plan_number=f"PLN-2026-{i:06d}",
            retailer_name="Acme Home Appliances",
            plan_name="Complete Care 3 Years",
            plan_code="CC3Y",
            owner_name="Jane Q. Doe",
            product_name="Espresso machine EM-400",
            sku="EM-400",
            serial=f"SN{12345678 + i:010d}",
            term_starts_on="7 December 2026",
            term_ends_on="6 December 2029",
            claim_limit="2 claims per 12 months",
            deductibles=[("Repair", "49.00 USD"), ("Replacement", "99.00 USD")],
            incidents=["Mechanical breakdown", "Accidental damage", "Power surge"],
            issued_for="Activation",
            verification_code=label.tracking_number[-12:],
            verify_url=label.tracking_url.replace("/track/", "/v1/verify/"),
        )
        for i, label in enumerate(labels)
    ]


def cpu_ms_per_render(render: Callable[[Any], bytes], data: list[Any]) -> float:
    """CPU milliseconds (time.process_time) per render over `data`, one render each."""
    start = time.process_time()
    for item in data:
        render(item)
    return (time.process_time() - start) * 1000 / len(data)


def baseline(data: LabelData) -> bytes:
    """The least a label can be: a 4x6 page with the tracking barcode."""
    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE, invariant=1)
    Code128(data.tracking_number, barWidth=1.2, barHeight=60).drawOn(canvas, 30, 150)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def widget_label(data: LabelData) -> bytes:
    """The baseline plus a QR code from reportlab's own QrCodeWidget, for comparison."""
    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE, invariant=1)
    Code128(data.tracking_number, barWidth=1.2, barHeight=60).drawOn(canvas, 30, 150)
    widget = QrCodeWidget(data.tracking_url, barLevel="M")
    drawing = Drawing(93.6, 93.6)
    drawing.add(widget)
    render_drawing(drawing, canvas, 10, 16)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


class Runner:
    """Counts calls of one renderer over the slices it is given."""

    def __init__(self, render: Callable[[LabelData], bytes], data: list[LabelData]) -> None:
        self.render = render
        self.data = data
        self.count = 0
        self.cpu = 0.0
        self.wall = 0.0

    def run(self, seconds: float) -> None:
        wall_start, cpu_start = time.perf_counter(), time.thread_time()
        deadline = wall_start + seconds
        data, n = self.data, len(self.data)
        count = self.count
        while time.perf_counter() < deadline:
            self.render(data[count % n])
            count += 1
        self.count = count
        self.cpu += time.thread_time() - cpu_start
        self.wall += time.perf_counter() - wall_start

    def rates(self) -> tuple[float, float]:
        return self.count / self.cpu, self.count / self.wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per contender")
    parser.add_argument("--renders", type=int, default=200, help="per slip/label round")
    args = parser.parse_args()

    data = inputs(INPUTS)
    label, bare = Runner(render_label, data), Runner(baseline, data)
    for runner in (label, bare):  # warm up: imports, font metrics, caches
        runner.run(0.5)
        runner.count, runner.cpu, runner.wall = 0, 0.0, 0.0
    turns = max(1, round(args.seconds / SLICE))
    for _ in range(turns):
        bare.run(SLICE)
        label.run(SLICE)

    widget = Runner(widget_label, data)
    widget.run(1.0)

    bare_cpu, bare_wall = bare.rates()
    label_cpu, label_wall = label.rates()
    widget_cpu, widget_wall = widget.rates()
    print(
        f"baseline (Code 128 only):    {bare_cpu:7.1f} pages/s per core "
        f"({bare_wall:.1f}/s wall, {bare.count} pages)"
    )
    print(
        f"render_label (full label):   {label_cpu:7.1f} labels/s per core "
        f"({label_wall:.1f}/s wall, {label.count} labels)"
    )
    print(
        f"for comparison, Code 128 + reportlab QrCodeWidget: {widget_cpu:.1f} pages/s per core "
        f"({widget_wall:.1f}/s wall, {widget.count} pages)"
    )
    print(f"labels ratio: {label_cpu / bare_cpu:.2f} (target >= {TARGET})")

    labels = data[: args.renders]
    slips = slip_inputs(labels)
    certificates: dict[str, tuple[Callable[[Any], bytes], list[Any]]] = {
        "repair": (render_repair_certificate, repair_certificates(labels)),
        "relocation": (render_relocation_certificate, relocation_certificates(labels)),
        "coverage": (render_coverage_certificate, coverage_certificates(labels)),
    }
    cpu_ms_per_render(render_packing_slip, slips[:20])  # warm up
    for render, inputs_of_kind in certificates.values():
        cpu_ms_per_render(render, inputs_of_kind[:20])
    label_ms = slip_ms = 0.0
    certificate_ms = dict.fromkeys(certificates, 0.0)
    for _ in range(SLIP_ROUNDS):
        label_ms += cpu_ms_per_render(render_label, labels) / SLIP_ROUNDS
        slip_ms += cpu_ms_per_render(render_packing_slip, slips) / SLIP_ROUNDS
        for kind, (render, inputs_of_kind) in certificates.items():
            certificate_ms[kind] += cpu_ms_per_render(render, inputs_of_kind) / SLIP_ROUNDS
    print(
        f"CPU per render ({SLIP_ROUNDS} alternating rounds of {len(labels)}): "
        f"packing slip {slip_ms:.2f} ms, label {label_ms:.2f} ms"
    )
    print(
        "CPU per certificate (same rounds): "
        + ", ".join(f"{kind} {ms:.2f} ms" for kind, ms in certificate_ms.items())
        + f"; label {label_ms:.2f} ms"
    )
    print(f"packing_slip ratio: {label_ms / slip_ms:.2f} (target >= {SLIP_TARGET})")


if __name__ == "__main__":
    main()
