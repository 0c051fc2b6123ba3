"""The dataclasses that cross a layer: activity requests and results (one module per
activity module), workflow inputs and the facts written to the read model. Stdlib and
`domain` only, so a workflow can import every contract without loading what the
activities run on (SQLAlchemy, httpx, reportlab)."""
