"""Scorecard points and drift flags follow every revealed session's stored results."""

import random

import pytest
import sqlalchemy as sa

from calibration import quality, services
from calibration.models import Flag, FlagStatus, QualityPoint
from rollcal.accounts.models import Role
from tests.calibration_factories import run_session

GOLDEN = ("remove", "allow")
CASES = 60


@pytest.fixture
def sites(create_user, create_site, create_vendor):
    meridian, harbor = create_vendor("Meridian CX"), create_vendor("Harbor Review")
    cebu, dublin = create_site(meridian, "Cebu"), create_site(harbor, "Dublin")
    pom = create_user(Role.POM)
    raters = [
        (create_user(Role.QA_LEAD, vendor=meridian, name="Maria"), cebu),
        (create_user(Role.QA_LEAD, vendor=meridian, name="Ana"), cebu),
        (create_user(Role.QA_LEAD, vendor=harbor, name="Liam"), dublin),
        (create_user(Role.QA_LEAD, vendor=harbor, name="Niamh"), dublin),
    ]
    return {"pom": pom, "raters": raters, "cebu": cebu, "dublin": dublin}


def _round(sites, number: int, cebu_error: float, dublin_error: float = 0.07):
    """A revealed round where Cebu's raters miss golden at ``cebu_error``."""
    chance = random.Random(number)
    errors = [cebu_error, cebu_error, dublin_error, dublin_error]
    misses = {
        (rater, case): chance.random() < errors[rater]
        for rater in range(4)
        for case in range(CASES)
    }

    def answer(rater: int, case: int) -> str:
        right = GOLDEN[case % 2]
        return GOLDEN[(case + 1) % 2] if misses[rater, case] else right

    return run_session(
        sites["pom"],
        sites["raters"],
        cases=CASES,
        golden=lambda i: GOLDEN[i % 2],
        answer=answer,
        title=f"Round {number}",
        label_options="remove | Remove\nallow | Allow",
    )


def _drift_flags(db, site):
    return db.session.scalars(
        sa.select(Flag).where(Flag.site_id == site.id, Flag.kind == "accuracy_drift")
    ).all()


def test_a_site_whose_accuracy_falls_is_flagged_and_a_steady_one_is_not(db, sites):
    falling = [0.07, 0.06, 0.08, 0.10, 0.14, 0.18, 0.22, 0.26, 0.30]
    for number, error in enumerate(falling, 1):
        latest = _round(sites, number, error)

    points = db.session.scalars(sa.select(QualityPoint)).all()
    assert len(points) == 9 * 4  # two vendors and two sites a round
    [cebu_flag] = _drift_flags(db, sites["cebu"])
    assert _drift_flags(db, sites["dublin"]) == []
    assert cebu_flag.status == FlagStatus.OPEN
    assert cebu_flag.vendor_id == sites["cebu"].vendor_id
    assert cebu_flag.message.startswith("Meridian CX · Cebu's accuracy against golden fell from")
    assert "“Round 9”" in cebu_flag.message
    assert cebu_flag.value < cebu_flag.threshold  # now below its own baseline

    # Recomputing the latest round keeps the one flag (the session's own flags are
    # reconciled without closing it).
    services.recompute_results(sites["pom"], latest)
    assert [f.id for f in _drift_flags(db, sites["cebu"])] == [cebu_flag.id]
    assert cebu_flag.status == FlagStatus.OPEN


def test_a_drift_flag_closes_when_the_site_recovers(db, sites):
    for number, error in enumerate([0.06, 0.07, 0.06, 0.15, 0.25, 0.30, 0.32], 1):
        _round(sites, number, error)
    [flag] = _drift_flags(db, sites["cebu"])
    assert flag.status == FlagStatus.OPEN

    for number in range(8, 12):
        _round(sites, number, 0.05)

    [flag] = _drift_flags(db, sites["cebu"])
    assert flag.status == FlagStatus.RESOLVED
    assert flag.closed_by_recompute
    assert flag.root_cause == quality.NO_LONGER_HOLDS


def test_unrevealed_sessions_leave_no_points(db, sites):
    run_session(
        sites["pom"],
        sites["raters"],
        cases=CASES,
        golden=lambda i: GOLDEN[i % 2],
        answer=lambda rater, case: GOLDEN[case % 2],
        until="closed",
        label_options="remove | Remove\nallow | Allow",
    )
    assert db.session.scalars(sa.select(QualityPoint)).all() == []


def test_rebuild_writes_the_points_of_sessions_revealed_before_scorecards(db, sites, runner):
    session = _round(sites, 1, 0.05)
    db.session.execute(sa.delete(QualityPoint))
    db.session.commit()

    result = runner.invoke(args=["quality", "rebuild"])

    assert result.exit_code == 0, result.output
    assert "Read the stored results of 1 revealed session." in result.output
    subjects = db.session.scalars(
        sa.select(QualityPoint.subject).where(QualityPoint.session_id == session.id)
    ).all()
    assert sorted(subjects) == sorted(
        [f"s{sites['cebu'].id}", f"s{sites['dublin'].id}"]
        + [f"v{sites['cebu'].vendor_id}", f"v{sites['dublin'].vendor_id}"]
    )
