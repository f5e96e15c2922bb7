"""The reports area: its public names; other areas import only these."""

from __future__ import annotations

from handlers.reports.chart import render
from handlers.reports.encounters import coverage, coverage_markdown, school_year
from handlers.reports.evidence import ask_attendance, mydata_lines
from handlers.reports.export import csv_cell, long_csv, report_csv, report_markdown, wide_csv
from handlers.reports.figures import Period, PeriodError, Scope, compute, parse_period
from handlers.reports.report import build_report, chart_data, school_zone

__all__ = [
    "Period",
    "PeriodError",
    "Scope",
    "ask_attendance",
    "build_report",
    "chart_data",
    "compute",
    "coverage",
    "coverage_markdown",
    "csv_cell",
    "long_csv",
    "mydata_lines",
    "parse_period",
    "render",
    "report_csv",
    "report_markdown",
    "school_year",
    "school_zone",
    "wide_csv",
]
