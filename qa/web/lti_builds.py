"""Background index builds of a course collection, for the instructor pages.

`CourseBuilds(askers).start(name) -> dict` starts (or joins) the build of collection `name`
and returns its progress as JSON; `status(name) -> dict | None` polls it. The build itself,
its progress and the switch to the new build while learners keep asking are
`qa.index.jobs` and the engine cache's hot swap (`askers.engines.start_build`); this module
only turns a job into the JSON the page shows.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

IDLE = {"state": "idle", "progress": 1.0, "phase": "", "error": None}


def job_json(job) -> dict:
    data = job.to_dict() if hasattr(job, "to_dict") else dict(job)
    return {"state": data.get("state", "idle"), "progress": float(data.get("progress") or 0.0),
            "phase": data.get("phase") or "", "error": data.get("error")}


class CourseBuilds:
    def __init__(self, askers):
        self.askers = askers

    def start(self, name: str) -> dict:
        job = self.askers.engines.start_build(name)
        return job_json(job)

    def status(self, name: str) -> dict:
        from qa.index.jobs import current_job

        job = current_job(self.askers.settings, name)
        return job_json(job) if job is not None else dict(IDLE)
