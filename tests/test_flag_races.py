"""Two recomputes of one session at the same instant never leave two flags for one cause.

Like the label race, this test commits for real from several threads, each with its own
connection, so it builds its own small world and deletes it afterwards.
"""

import threading

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from calibration import services
from calibration.models import CalibrationSession, Case, Flag
from rollcal.accounts.models import Role, User
from rollcal.audit import AuditEvent
from rollcal.errors import Conflict
from rollcal.extensions import db
from rollcal.notifications.models import EmailMessage, Notification
from rollcal.org.models import Site, Vendor
from rollcal.uow import unit_of_work

RECOMPUTES = 4
OPTIONS = ("remove", "allow", "escalate")


def _build_world() -> dict:
    password = generate_password_hash("x", method="pbkdf2:sha256:1")
    vendor = Vendor(name="Recompute Vendor", slug="recompute-vendor")
    site = Site(vendor=vendor, name="Race Avenue", city="Cebu")
    pom = User(email="recompute-pom@example.com", name="POM", role=Role.POM, password_hash=password)
    leads = [
        User(
            email=f"recompute-{n}@example.com",
            name=f"Lead {n}",
            role=Role.QA_LEAD,
            vendor=vendor,
            password_hash=password,
        )
        for n in range(3)
    ]
    db.session.add_all([vendor, site, pom, *leads])
    db.session.commit()
    lines = ["reference,text,golden"] + [f"C-{i},case {i},{OPTIONS[i % 3]}" for i in range(40)]
    with unit_of_work():
        session = services.create_session(
            pom, title="Recompute race", label_options="\n".join(OPTIONS)
        )
        for lead in leads:
            services.add_human_rater(pom, session, user_id=lead.id, site_id=site.id)
        services.import_cases(pom, session, ("\n".join(lines) + "\n").encode())
        services.open_session(pom, session)
        for lead in leads:
            services.save_labels(
                lead,
                session,
                [services.LabelInput(option=OPTIONS[i % 3], reference=f"C-{i}") for i in range(40)],
            )
        services.close_session(pom, session)
    with unit_of_work():
        # Golden answers that everyone now misses: the recompute raises new flags.
        for case in db.session.scalars(sa.select(Case).where(Case.session_id == session.id)):
            wrong = OPTIONS[(OPTIONS.index(case.golden_label) + 1) % 3]
            services.set_golden(pom, case, golden_label=wrong)
    world = {
        "session_id": session.id,
        "pom_id": pom.id,
        "user_ids": [pom.id, *(lead.id for lead in leads)],
        "site_id": site.id,
        "vendor_id": vendor.id,
    }
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
    # New high flags are told to the POM: their notifications and e-mails go too.
    db.session.execute(sa.delete(Notification).where(Notification.user_id.in_(world["user_ids"])))
    db.session.execute(sa.delete(EmailMessage).where(EmailMessage.user_id.in_(world["user_ids"])))
    db.session.execute(
        sa.delete(CalibrationSession).where(CalibrationSession.id == world["session_id"])
    )
    db.session.execute(sa.delete(User).where(User.id.in_(world["user_ids"])))
    db.session.execute(sa.delete(Site).where(Site.id == world["site_id"]))
    db.session.execute(sa.delete(Vendor).where(Vendor.id == world["vendor_id"]))
    db.session.commit()


def test_concurrent_recomputes_leave_one_flag_per_cause(app):
    with app.app_context():
        world = _build_world()
        try:
            barrier = threading.Barrier(RECOMPUTES)
            errors: list[BaseException] = []
            conflicts: list[Conflict] = []

            def recompute() -> None:
                with app.app_context():
                    try:
                        pom = db.session.get(User, world["pom_id"])
                        session = db.session.get(CalibrationSession, world["session_id"])
                        db.session.commit()
                        barrier.wait(timeout=10)
                        with unit_of_work():
                            services.recompute_results(pom, session)
                    except Conflict as conflict:
                        conflicts.append(conflict)
                    except BaseException as error:  # reported below, in the test's thread
                        errors.append(error)
                    finally:
                        db.session.remove()

            threads = [threading.Thread(target=recompute) for _ in range(RECOMPUTES)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert not errors, errors
            assert len(conflicts) < RECOMPUTES
            causes = db.session.scalars(
                sa.select(Flag.cause).where(Flag.session_id == world["session_id"])
            ).all()
            assert causes and len(causes) == len(set(causes))
            assert any(cause.endswith("|low_accuracy") for cause in causes)
        finally:
            _remove_world(world)
