"""The stored evaluation of each model rater of a session against the session's humans.

The humans' results (the agreement snapshot) are computed from human labels only, so a
model — one labelling with the humans, or one replaying a revealed session — never moves
the humans' alpha, flags or gate. Each model rater is measured here instead, by
:func:`calibration.model_eval.evaluate_version`, and stored as one
:class:`~calibration.models.ModelEvaluation` per rater.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa

from calibration.model_eval import LabelOption, error_profile, evaluate_version
from calibration.models import CalibrationSession, Case, Label, ModelEvaluation, Rater, RaterKind
from rollcal.events import model_results_changed
from rollcal.extensions import db
from rollcal.types import utcnow


def label_options_of(session: CalibrationSession) -> list[LabelOption]:
    """The session's label options with their severity and order of enforcement."""
    return [
        LabelOption.from_option(option, index) for index, option in enumerate(session.label_options)
    ]


def session_labels(session: CalibrationSession) -> tuple[dict[int, dict[str, str]], dict[str, str]]:
    """Every label of the session by rater id (reference → key), and the golden answers."""
    by_rater: dict[int, dict[str, str]] = {}
    rows = db.session.execute(
        sa.select(Label.rater_id, Case.reference, Label.option_key)
        .join(Case, Case.id == Label.case_id)
        .where(Case.session_id == session.id)
    )
    for rater_id, reference, key in rows:
        by_rater.setdefault(rater_id, {})[reference] = key
    golden = dict(
        db.session.execute(
            sa.select(Case.reference, Case.golden_label).where(
                Case.session_id == session.id, Case.golden_label.is_not(None)
            )
        ).all()
    )
    return by_rater, golden


def evaluate_models(
    session: CalibrationSession,
    raters: Sequence[Rater],
    names: Mapping[int, str],
    *,
    only: Iterable[int] | None = None,
) -> list[ModelEvaluation]:
    """Measure the session's model raters (or those in ``only``) and store the figures.

    A model rater without labels has no evaluation (an earlier one is removed).
    """
    wanted = set(only) if only is not None else None
    models = [
        rater
        for rater in raters
        if rater.kind == RaterKind.MODEL and (wanted is None or rater.id in wanted)
    ]
    if not models:
        return []
    by_rater, golden = session_labels(session)
    humans = {
        names[rater.id]: by_rater.get(rater.id, {})
        for rater in raters
        if rater.kind == RaterKind.HUMAN and by_rater.get(rater.id)
    }
    options = label_options_of(session)
    existing = {
        evaluation.rater_id: evaluation
        for evaluation in db.session.scalars(
            sa.select(ModelEvaluation).where(
                ModelEvaluation.rater_id.in_([rater.id for rater in models])
            )
        )
    }
    stored = []
    for rater in models:
        labels = by_rater.get(rater.id)
        evaluation = existing.get(rater.id)
        if not labels:
            if evaluation is not None:
                db.session.delete(evaluation)
            continue
        figures = evaluate_version(
            names[rater.id], labels, humans, golden, options, seed=session.id
        )
        if evaluation is None:
            evaluation = ModelEvaluation(session_id=session.id, rater_id=rater.id)
            db.session.add(evaluation)
        evaluation.ai_version_id = rater.ai_version_id
        evaluation.computed_at = utcnow()
        evaluation.n_golden = figures.golden.n
        evaluation.accuracy = figures.golden.value
        evaluation.accuracy_low, evaluation.accuracy_high = figures.golden.interval or (None, None)
        evaluation.verdict = figures.verdict_golden.key
        evaluation.figures = figures.to_dict()
        stored.append(evaluation)
    db.session.flush()
    model_results_changed.send(session)
    return stored


def vendor_error_directions(
    session: CalibrationSession, raters: Sequence[Rater]
) -> dict[str, dict]:
    """Per vendor id: its human raters' pooled errors by direction and severity, and per
    label, against golden (intervals over cases, since a case is labelled by several)."""
    by_rater, golden = session_labels(session)
    options = label_options_of(session)
    ratings: dict[int, list[tuple[str, str, str]]] = {}
    names: dict[int, str] = {}
    for rater in raters:
        if rater.kind != RaterKind.HUMAN or rater.vendor_id is None:
            continue
        names[rater.vendor_id] = rater.vendor.name
        ratings.setdefault(rater.vendor_id, []).extend(
            (case, golden[case], label)
            for case, label in by_rater.get(rater.id, {}).items()
            if case in golden
        )
    return {
        str(vendor_id): {
            "vendor": names[vendor_id],
            **error_profile(rows, options, seed=session.id + vendor_id).to_dict(),
        }
        for vendor_id, rows in sorted(ratings.items(), key=lambda pair: names[pair[0]])
        if rows
    }
