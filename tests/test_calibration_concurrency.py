"""Raters saving the same label at the same moment leave exactly one row.

Unlike the other tests this one commits for real, from several threads each with its own
connection, so it builds its own small world and deletes it afterwards.
"""

import threading

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from calibration import services
from calibration.models import CalibrationSession, Case, Label, Rater
from rollcal.accounts.models import Role, User
from rollcal.audit import AuditEvent
from rollcal.extensions import db
from rollcal.org.models import Site, Vendor
from rollcal.uow import unit_of_work

WRITERS = 8


def _build_world() -> dict:
    password = generate_password_hash("x", method="pbkdf2:sha256:1")
    vendor = Vendor(name="Concurrency Vendor", slug="concurrency-vendor")
    site = Site(vendor=vendor, name="Race Street", city="Manila")
    pom = User(email="race-pom@example.com", name="POM", role=Role.POM, password_hash=password)
    leads = [
        User(
            email=f"race-{n}@example.com",
            name=f"Lead {n}",
            role=Role.QA_LEAD,
            vendor=vendor,
            password_hash=password,
        )
        for n in range(2)
    ]
    with unit_of_work():
        db.session.add_all([vendor, site, pom, *leads])
    with unit_of_work():
        session = services.create_session(pom, title="Race", label_options="remove\nallow")
        for lead in leads:
            services.add_human_rater(pom, session, user_id=lead.id, site_id=site.id)
        services.import_cases(pom, session, b"reference,text\nC-1,one\nC-2,two\n")
        services.open_session(pom, session)
    world = {
        "session_id": session.id,
        "lead_id": leads[0].id,
        "user_ids": [pom.id, *(lead.id for lead in leads)],
        "site_id": site.id,
        "vendor_id": vendor.id,
    }
    # Reading those ids began a transaction; on SQLite an open reader would block the
    # writers this test races, so end it.
    db.session.close()
    return world


def _remove_world(world: dict) -> None:
    db.session.rollback()
    db.session.execute(
        sa.delete(AuditEvent).where(
            sa.or_(
                AuditEvent.session_id == world["session_id"],
                AuditEvent.actor_id.in_(world["user_ids"]),
            )
        )
    )
    # Raters, cases, labels, results and flags go with the session (ON DELETE CASCADE).
    db.session.execute(
        sa.delete(CalibrationSession).where(CalibrationSession.id == world["session_id"])
    )
    db.session.execute(sa.delete(User).where(User.id.in_(world["user_ids"])))
    db.session.execute(sa.delete(Site).where(Site.id == world["site_id"]))
    db.session.execute(sa.delete(Vendor).where(Vendor.id == world["vendor_id"]))
    db.session.commit()


def test_concurrent_saves_of_one_case_by_one_rater_leave_one_label(app):
    with app.app_context():
        world = _build_world()
        try:
            barrier = threading.Barrier(WRITERS)
            errors: list[BaseException] = []

            def save(option: str) -> None:
                with app.app_context():
                    try:
                        lead = db.session.get(User, world["lead_id"])
                        session = db.session.get(CalibrationSession, world["session_id"])
                        entries = [
                            services.LabelInput(option=option, reference="C-1"),
                            services.LabelInput(option=option, reference="C-2"),
                        ]
                        # End the reading transaction first: on SQLite it holds the write
                        # lock, and the race is between the writes, not the reads.
                        db.session.commit()
                        barrier.wait(timeout=10)
                        with unit_of_work():
                            services.save_labels(lead, session, entries)
                    except BaseException as error:  # reported below, in the test's thread
                        errors.append(error)
                    finally:
                        db.session.remove()

            threads = [
                threading.Thread(target=save, args=("remove" if n % 2 else "allow",))
                for n in range(WRITERS)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            assert not errors, errors
            rows = db.session.execute(
                sa.select(Case.reference, sa.func.count(Label.id))
                .join(Label, Label.case_id == Case.id)
                .join(Rater, Rater.id == Label.rater_id)
                .where(Rater.user_id == world["lead_id"])
                .group_by(Case.reference)
                .order_by(Case.reference)
            ).all()
            assert rows == [("C-1", 1), ("C-2", 1)]
        finally:
            _remove_world(world)
