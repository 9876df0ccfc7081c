"""The run's date: the day a live run reads its data, from which the ages the rules judge are measured."""

from __future__ import annotations

import os
from datetime import date, datetime, timezone


def run_date() -> date:
    """Today in UTC; SOURCE_DATE_EPOCH fixes it (reproducible runs and tests), as it fixes `generated_at`."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    return now.date()
