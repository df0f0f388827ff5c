"""Waiting for a Label Studio retrain job of the service (`GET /webhook/jobs/{id}`) to finish."""

from __future__ import annotations

import time

import pytest


def wait_for_job(service, job_id: str, timeout_s: float) -> dict:
    """The job once it is no longer queued or running; fails the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = service.get(f"/webhook/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    pytest.fail(f"retrain job {job_id} still {job['status']} after {timeout_s}s")
