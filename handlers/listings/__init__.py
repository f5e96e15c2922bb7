"""The listings area: its public names; other areas import only these."""

from __future__ import annotations

from handlers.listings.flags import review_buttons as report_buttons
from handlers.listings.import_jobs import run_imports, start_import
from handlers.listings.importer import Owner, import_file
from handlers.listings.opportunities import proposal_buttons, review_queue
from handlers.listings.sync.engine import (
    DEFAULT_FILTER,
    close_expired,
    describe,
    sync_due,
    sync_sources,
)
from handlers.listings.sync.manage import (
    SourceProblem,
    add_source,
    last_runs,
    remove_source,
    status_lines,
    visible_sources,
)
from handlers.listings.sync.providers import PROVIDERS, Endpoints, Fetcher

__all__ = [
    "DEFAULT_FILTER",
    "PROVIDERS",
    "Endpoints",
    "Fetcher",
    "Owner",
    "SourceProblem",
    "add_source",
    "close_expired",
    "describe",
    "import_file",
    "last_runs",
    "proposal_buttons",
    "remove_source",
    "report_buttons",
    "review_queue",
    "run_imports",
    "start_import",
    "status_lines",
    "sync_due",
    "sync_sources",
    "visible_sources",
]
