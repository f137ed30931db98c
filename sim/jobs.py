"""The six buying jobs as one table: every per-job constant of the dynamics lives here.

Jobs are known everywhere by the named indices below (``PROBLEM_IDENTIFICATION`` ...), never by
position; adding a behaviour to a job is a new column in :data:`JOBS`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Job(NamedTuple):
    """One buying job and how the weekly rules treat it."""

    name: str
    # Time with suppliers while a stakeholder works on this job (times the base share):
    # little while defining the problem, most while selecting and validating suppliers.
    supplier_focus: float
    # How far a new contradiction sets the job back (times contradiction_shock): it puts the
    # chosen supplier and its validation in doubt most, and reopens exploration and requirements.
    contradiction_reach: float
    # How far a change of the group's preferred supplier sets the job back (times
    # choice_change_shock).
    choice_change_reach: float
    # Whether the job gets behaviour.always_on_effort every week whatever the focus.
    always_on: bool
    # How strongly each role is drawn to the job, in the order of scenario.ROLE_NAMES:
    # executive sponsor, finance, IT, operations/users, procurement, legal/security.
    role_affinity: tuple[float, float, float, float, float, float]


JOBS: tuple[Job, ...] = (
    Job("problem_identification", 0.5, 0.0, 0.0, False, (1.6, 0.8, 0.8, 1.2, 0.7, 0.7)),
    Job("solution_exploration", 1.0, 0.5, 0.0, False, (1.0, 0.8, 1.2, 1.4, 0.9, 0.7)),
    Job("requirements_building", 0.8, 0.5, 0.5, False, (0.8, 1.2, 1.5, 1.3, 1.0, 1.0)),
    Job("supplier_selection", 1.6, 1.0, 1.0, False, (1.0, 1.0, 1.2, 0.9, 1.5, 0.9)),
    Job("validation", 1.4, 1.0, 1.0, True, (0.8, 1.5, 1.0, 0.8, 1.3, 1.6)),
    Job("consensus_creation", 0.8, 0.5, 1.0, True, (1.6, 1.0, 0.7, 0.8, 0.9, 1.0)),
)

JOB_NAMES: tuple[str, ...] = tuple(job.name for job in JOBS)
N_JOBS = len(JOBS)
PROBLEM_IDENTIFICATION = JOB_NAMES.index("problem_identification")
SOLUTION_EXPLORATION = JOB_NAMES.index("solution_exploration")
REQUIREMENTS_BUILDING = JOB_NAMES.index("requirements_building")
SUPPLIER_SELECTION = JOB_NAMES.index("supplier_selection")
VALIDATION = JOB_NAMES.index("validation")
CONSENSUS_CREATION = JOB_NAMES.index("consensus_creation")

# The table's columns as arrays indexed by job (the compiled kernels read these).
SUPPLIER_FOCUS_FACTOR = np.array([job.supplier_focus for job in JOBS])
CONTRADICTION_REACH = np.array([job.contradiction_reach for job in JOBS])
CHOICE_CHANGE_REACH = np.array([job.choice_change_reach for job in JOBS])
ALWAYS_ON = np.array([job.always_on for job in JOBS])
ROLE_JOB_AFFINITY = np.array([job.role_affinity for job in JOBS]).T  # (roles, jobs)
