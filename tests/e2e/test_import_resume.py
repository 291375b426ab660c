"""S15: an import killed with SIGKILL mid-file resumes, when the same command is run
again, after its last committed batch: every row lands once, none twice."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.customers.models import Identifier
from omnikanal.imports.models import ImportJob
from tests.server import omnikanal_env, omnikanal_process

ROWS = 4000
BATCH = 100


def write_customers(path: Path) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(("external_id", "email", "first_name"))
        for number in range(ROWS):
            writer.writerow((f"k9-{number}", f"person{number}@example.com", f"P{number}"))


def job_state(factory: sessionmaker[Session]) -> Any:
    with factory() as session:
        return session.execute(
            select(ImportJob.id, ImportJob.status, ImportJob.position, ImportJob.rows_created)
        ).first()


def test_a_killed_import_resumes_after_its_last_committed_batch(
    database_url: str, tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    data = tmp_path / "people.csv"
    write_customers(data)
    env = omnikanal_env(database_url, tmp_path, OMNIKANAL_IMPORT_BATCH_ROWS=str(BATCH))
    command = ["import", "customers", str(data)]

    with omnikanal_process(command, env, tmp_path / "first.log") as process:
        deadline = time.monotonic() + 120
        while True:
            state = job_state(session_factory)
            if state is not None and state.position >= 3 * BATCH:
                break
            assert process.process.poll() is None, f"finished before the kill:\n{process.output()}"
            assert time.monotonic() < deadline, process.output()
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
        process.process.wait()

    stopped = job_state(session_factory)
    assert stopped.status == "running"
    assert stopped.position % BATCH == 0  # whole batches only
    assert 3 * BATCH <= stopped.position < ROWS
    with session_factory() as session:
        landed = session.scalar(
            select(func.count()).select_from(Identifier).where(Identifier.type == "external_id")
        )
    assert landed == stopped.position == stopped.rows_created  # nothing half-written

    again = subprocess.run(
        [sys.executable, "-m", "omnikanal", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"resuming import {stopped.id} after row {stopped.position:,}" in again.stdout
    with session_factory() as session:
        job = session.get(ImportJob, stopped.id)
        assert job is not None
        assert job.status == "done"
        assert (job.rows_read, job.rows_created, job.rows_failed) == (ROWS, ROWS, 0)
        assert session.scalar(select(func.count()).select_from(ImportJob)) == 1
        people = session.scalar(
            select(func.count(func.distinct(Identifier.profile_id))).where(
                Identifier.type == "external_id"
            )
        )
        assert people == ROWS
