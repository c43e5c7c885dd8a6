"""Build calibration sessions for tests through the real services.

Plain functions, not fixtures, so the route-permission matrix and every calibration test
module can share them. They need an app context and the ``db`` fixture's session.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import sqlalchemy as sa

from calibration import services
from calibration.models import CalibrationSession, Case, Flag, Rater
from rollcal.accounts.models import User
from rollcal.extensions import db
from rollcal.org.models import Site

OPTIONS = (
    "remove | Remove | Breaks the policy\nallow | Allow | Within the policy\nescalate | Escalate"
)


def cases_csv(count: int, golden: Callable[[int], str | None] = lambda i: None) -> bytes:
    """A cases file of ``count`` cases C-1 … C-n, with golden answers from ``golden``."""
    lines = ["reference,text,golden"]
    for index in range(count):
        lines.append(f"C-{index + 1},Listing number {index + 1},{golden(index) or ''}")
    return ("\n".join(lines) + "\n").encode()


def make_session(
    pom: User,
    raters: Sequence[tuple[User, Site]] = (),
    *,
    cases: int = 0,
    golden: Callable[[int], str | None] = lambda i: None,
    title: str = "Counterfeit listings — round 1",
    **details,
) -> CalibrationSession:
    """A draft session with raters and cases; ``label_options=""`` copies the version's."""
    details.setdefault("label_options", OPTIONS)
    session = services.create_session(pom, title=title, **details)
    for user, site in raters:
        services.add_human_rater(pom, session, user_id=user.id, site_id=site.id)
    if cases:
        services.import_cases(pom, session, cases_csv(cases, golden))
    return session


def case_ids(session: CalibrationSession) -> list[int]:
    """The session's case ids in order."""
    return list(
        db.session.scalars(
            sa.select(Case.id).where(Case.session_id == session.id).order_by(Case.position)
        )
    )


def label_all(
    session: CalibrationSession,
    users: Sequence[User],
    answer: Callable[[int, int], str | None],
) -> None:
    """Each user labels each case with ``answer(user position, case position)`` (None skips)."""
    ids = case_ids(session)
    for rater_index, user in enumerate(users):
        entries = [
            services.LabelInput(option=option, case_id=case_id)
            for case_index, case_id in enumerate(ids)
            if (option := answer(rater_index, case_index)) is not None
        ]
        if entries:
            services.save_labels(user, session, entries)


def run_session(
    pom: User,
    raters: Sequence[tuple[User, Site]],
    *,
    cases: int,
    answer: Callable[[int, int], str | None],
    golden: Callable[[int], str | None] = lambda i: None,
    until: str = "revealed",
    **details,
) -> CalibrationSession:
    """A session taken through labelling to ``until`` (draft, open, closed or revealed)."""
    session = make_session(pom, raters, cases=cases, golden=golden, **details)
    if until == "draft":
        return session
    services.open_session(pom, session)
    label_all(session, [user for user, _ in raters], answer)
    if until in ("closed", "revealed"):
        services.close_session(pom, session)
    if until == "revealed":
        services.reveal_session(pom, session)
    return session


def split_answers(rater_index: int, case_index: int) -> str:
    """Raters who disagree a lot: a misaligned session with flags on every scope."""
    return ("remove", "allow", "escalate")[(rater_index + case_index * (rater_index + 1)) % 3]


def noisy_answers(rater_index: int, case_index: int) -> str:
    """Raters who label at random (the same way every run): misaligned everywhere, with
    no single rater to blame."""
    return ("remove", "allow", "escalate")[
        random.Random(rater_index * 1000 + case_index).randrange(3)
    ]


def rater_of(session: CalibrationSession, user: User) -> Rater:
    """The user's rater row in the session."""
    return db.session.scalar(
        sa.select(Rater).where(Rater.session_id == session.id, Rater.user_id == user.id)
    )


def flags_of(session: CalibrationSession) -> list[Flag]:
    """Every stored flag of the session."""
    return list(db.session.scalars(sa.select(Flag).where(Flag.session_id == session.id)))


def permission_arguments(pom: User, site: Site, create_user) -> dict[str, int | str]:
    """URL arguments for the route-permission matrix: a revealed session whose two
    raters work at ``site`` (another vendor than the matrix's QA lead), with a case, a
    rater and a flag about that vendor."""
    from rollcal.accounts.models import Role

    raters = [(create_user(Role.QA_LEAD, vendor=site.vendor), site) for _ in range(2)]
    session = run_session(pom, raters, cases=6, answer=split_answers)
    flag = next(f for f in flags_of(session) if f.vendor_id == site.vendor_id)
    from calibration.findings_work import add_action

    action = add_action(pom, flag, "Go through the misses with the site")
    model, version, token = model_arguments(pom, session)
    return {
        "action_id": action.id,
        "session_id": session.id,
        "case_id": case_ids(session)[0],
        "rater_id": rater_of(session, raters[0][0]).id,
        "flag_id": flag.id,
        "kind": "cases",
        "model_id": model,
        "model_version_id": version,
        "model_token_id": token,
    }


def model_arguments(pom: User, session: CalibrationSession) -> tuple[int, int, int]:
    """A model with a version replaying the revealed ``session``, and a token of the
    model: their ids."""
    from calibration import model_services

    model = model_services.create_model(pom, name=f"Guard {session.id}")
    version = model_services.add_version(pom, model, version="1.0")
    model_services.add_version_rater(pom, session, version)
    token, _ = model_services.create_model_token(pom, model)
    return model.id, version.id, token.id
