"""`gameday.html`: one self-contained page (inline CSS, PNGs as data URIs, no script).

Rendered by Jinja2 with autoescape on: every lab-provided string is HTML-escaped where it is
placed, and bounded by the same plain-text cells as the Markdown report.
"""

import base64
from functools import cache

import jinja2

from gameday.report.charts import timeline_filename
from gameday.report.markdown import (
    CASE_COLUMNS,
    arm_rows,
    case_cells,
    clip,
    failure_notes,
    percent,
    ratio_text,
    when,
)
from gameday.report.schema import RunReport

OUTAGE_IMAGE = "outage.png"
TEMPLATE = "gameday.html"  # `*.html` is package data; a `.j2` name would not be installed


@cache
def _environment() -> jinja2.Environment:
    """The template environment, built on first use (nothing is read at import time)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("gameday.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _data_uri(png: bytes | None) -> str | None:
    """A `data:image/png;base64,...` URI, or None when the image is missing."""
    return None if png is None else "data:image/png;base64," + base64.b64encode(png).decode()


def render_html(*, report: RunReport, images: dict[str, bytes]) -> str:
    """The whole report as one HTML page; `images` maps chart file names to PNG bytes."""
    cases = [
        {
            "cells": case_cells(c),
            "status": c.status,
            "anchor": timeline_filename(c.id).removesuffix(".png"),
            "src": _data_uri(images.get(timeline_filename(c.id))),
        }
        for c in report.cases
    ]
    machine = report.machine
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            run_id=clip(report.run_id),
            started=when(report.started_at),
            finished=when(report.finished_at) if report.finished_at else None,
            machine=clip(f"{machine.host}, {machine.cpus} CPUs, Python {machine.python}"),
            schema_version=clip(report.schema_version),
            interrupted=report.interrupted,
            arms=[clip(s.arm) for s in report.arms],
            arm_rows=arm_rows(report.arms),
            pass_rate=percent(report.pass_rate),
            ratios=ratio_text(report.outage_ratios),
            outage_src=_data_uri(images.get(OUTAGE_IMAGE)),
            columns=CASE_COLUMNS,
            cases=cases,
            failures=failure_notes(report),
        )
    )
