"""The job registry: the three campaign tables the daemon polls."""
from __future__ import annotations

from typing import Dict, Tuple

from mg_handling.activity import ActivityJob
from mg_handling.job import Job
from mg_handling.news import NewsJob
from mg_handling.promotion import PromotionJob

JOBS: Tuple[Job, ...] = (NewsJob(), PromotionJob(), ActivityJob())
JOBS_BY_NAME: Dict[str, Job] = {job.name: job for job in JOBS}
