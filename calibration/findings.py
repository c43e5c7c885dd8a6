"""Findings (flags): which figures miss their targets on evidence, and what caused them.

Pure, like :mod:`calibration.agreement`, which calls :func:`build_flags` with its figures.
The rules, each documented with its minimums in the README ("Flags"):

1. A figure is tested only with enough evidence (:class:`Minimums`); each test has a
   one-sided p-value of "the target is met" (bootstrap over cases, or the exact binomial
   for one rater's accuracy).
2. A flag is raised when its 95% interval lies wholly on the wrong side of the target
   *and* the Benjamini–Hochberg q-value across every test of the session is at most the
   false-discovery rate (5%). A miss the evidence cannot confirm gives at most one low
   ``not_enough_evidence`` note per vendor, site or session.
3. Causes before symptoms: a vendor or site that meets its targets without a flagged
   rater is not flagged (its entry says ``explained_by``); a vendor's low accuracy that a
   ``misreads`` flag accounts for folds into it; a label flag that its misreading vendor
   or flagged raters account for drops to low with ``explained_by``; a site that is its
   vendor's only site carries the vendor's flags, and one-versus-rest alpha with two labels
   restates the session's alpha.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from calibration.evidence import benjamini_hochberg, binomial_p_below

if TYPE_CHECKING:
    from calibration.agreement import (
        GroupFigures,
        LabelFigures,
        RaterFigures,
        SiteFigures,
        _Resampling,
        _SampleSize,
        _Subset,
    )

SEVERITIES = ("high", "medium", "low")

# A misreading worth testing: the vendor or site gives B for A at least this often, and
# this much more often than everyone else.
MISREAD_MIN_SHARE = 0.25
MISREAD_MIN_EXCESS = 0.20


@dataclass(frozen=True)
class Minimums:
    """How much evidence each kind of figure needs before it is judged.

    ``shared_cases``: cases labelled by two or more raters (of the vendor or site) for an
    alpha interval, a one-versus-rest or leave-one-out test; ``golden_cases``: golden
    cases a vendor or site labelled for its accuracy; ``rater_golden_cases``: golden
    cases one rater labelled; ``label_golden_cases``: cases whose golden answer is the
    label, for its recall; ``misread_cases``: cases with the reference label A that a
    vendor or site labelled, for a misreading; ``undefined_share``: the largest share of
    undefined resamples an interval may leave out.
    """

    shared_cases: int = 30
    golden_cases: int = 30
    rater_golden_cases: int = 20
    label_golden_cases: int = 10
    misread_cases: int = 8
    undefined_share: float = 0.05


@dataclass
class Misread:
    """A vendor or site that gives ``given`` where the reference says ``golden``.

    ``reference`` is ``golden`` (the golden answer) or ``majority`` (everyone else's
    majority, without golden). ``share`` is how often the subject gives ``given`` on those
    ``n`` cases, ``others_share`` how often everyone else does; ``interval`` is the share's
    BCa interval and ``p_value`` the bootstrap p-value of "no more often than the others".
    """

    reference: str
    golden: str
    given: str
    share: float
    others_share: float
    n: int
    on_cases: np.ndarray = field(repr=False)
    reference_index: int = 0
    given_index: int = 0
    interval: tuple[float, float] | None = None
    p_value: float | None = None
    share_stat: int = -1
    excess_stat: int | None = None


@dataclass
class Flag:
    """A finding worth acting on, with the figure behind it, its evidence and what to do.

    ``scope`` is session, group (vendor), site, rater, label or case and ``subject``
    names which (None for the session). ``kind``: misaligned, tentative, low_accuracy,
    misreads, pulls_down_agreement, label_misaligned, low_recall, not_enough_evidence or
    too_few_cases. ``severity``: high, medium or low. ``value`` is the figure compared with
    ``threshold``, ``interval`` its 95% interval and ``n`` the cases it rests on.
    ``explained_by`` names the flag that accounts for this one (it is then low).
    A ``misreads`` flag adds ``golden`` (the reference label), ``given``, ``share`` and
    ``others_share``. ``q_value`` is the Benjamini–Hochberg adjusted p-value.
    """

    scope: str
    subject: str | None
    kind: str
    severity: str
    value: float | None
    threshold: float | None
    message: str
    interval: tuple[float, float] | None = None
    n: int | None = None
    explained_by: str | None = None
    golden: str | None = None
    given: str | None = None
    share: float | None = None
    others_share: float | None = None
    q_value: float | None = None


@dataclass
class FlagInputs:
    """Everything :func:`build_flags` reads, gathered by ``compute_report``."""

    alpha: float | None
    alpha_ci: tuple[float, float] | None
    alpha_p_meets: float | None
    alpha_reliable_p_meets: float | None
    n_pairable: int
    sample_size: _SampleSize | None
    raters: list[RaterFigures]
    labels: list[LabelFigures]
    groups: list[tuple[GroupFigures, _Subset]]
    sites: list[tuple[SiteFigures, _Subset]]
    resampling: _Resampling
    statistics: dict[tuple[str, str, int], int]
    without: Callable[[Any, list[str]], tuple[float | None, float | None]]
    session_without: Callable[[list[str]], float | None]
    label_without: Callable[[list[str]], dict[str, tuple[float | None, float | None]]]
    rater_accuracy_without: Callable[[str, list[str]], float | None]
    n_categories_used: int
    label_names: dict[str, str]
    accuracy_target: float
    alpha_threshold: float
    alpha_reliable: float
    loo_threshold: float
    significance: float
    minimums: Minimums


@dataclass
class _Candidate:
    """A flag waiting for its test: raised if ``wrong_side`` and its q-value is low enough."""

    flag: Flag
    p_value: float
    wrong_side: bool
    miss_sentence: str | None = None  # for the low note when the evidence cannot confirm


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def _range(interval: tuple[float, float] | None, *, percent: bool = False) -> str:
    if interval is None:
        return "no interval"
    if percent:
        return f"95% interval {_percent(interval[0])}–{_percent(interval[1])}"
    return f"95% interval {interval[0]:.3f}–{interval[1]:.3f}"


def _pair(value: float, threshold: float, *, percent: bool = False) -> tuple[str, str]:
    """Format a figure and its threshold so that they never read as equal.

    0.6666 against 0.667 would show as "0.667 is below 0.667"; add digits until they differ.
    """
    scale, digits, suffix = (100, 0, "%") if percent else (1, 3, "")
    while round(value * scale, digits) == round(threshold * scale, digits) and digits < 6:
        digits += 1
    return f"{value * scale:.{digits}f}{suffix}", f"{threshold * scale:.{digits}f}{suffix}"


def build_flags(inputs: FlagInputs) -> list[Flag]:
    """Every flag the figures raise on their evidence, the most severe first."""
    candidates: list[_Candidate] = []
    notes: dict[tuple[str, str | None], list[str]] = {}
    candidates += _session_candidates(inputs)
    candidates += _rater_candidates(inputs)
    candidates += _label_candidates(inputs)
    single_site_vendors = _vendors_that_are_one_site(inputs)
    for scope, entries in (("group", inputs.groups), ("site", inputs.sites)):
        for entry, subset in entries:
            name = subset.name
            if scope == "group" and name in single_site_vendors:
                continue
            candidates += _subset_candidates(inputs, scope, entry, subset)
            if entry.evidence_missing:
                notes.setdefault((scope, name), []).extend(entry.evidence_missing)

    q_values = benjamini_hochberg([candidate.p_value for candidate in candidates])
    raised: list[Flag] = []
    for candidate, q_value in zip(candidates, q_values, strict=True):
        candidate.flag.q_value = q_value
        if candidate.wrong_side and q_value <= inputs.significance:
            raised.append(candidate.flag)
        elif candidate.miss_sentence and candidate.flag.scope in ("session", "group", "site"):
            key = (candidate.flag.scope, candidate.flag.subject)
            notes.setdefault(key, []).append(candidate.miss_sentence)

    raised = _fold_rater_flags(inputs, raised)
    raised = _fold_label_flags_into_session(inputs, raised)
    raised = _explain_groups(inputs, raised, notes)
    raised = _explain_labels(inputs, raised)
    flags = raised + _evidence_notes(inputs, notes, raised)
    if (
        inputs.alpha is not None
        and inputs.sample_size is not None
        and inputs.n_pairable < inputs.sample_size.needed
    ):
        # The session's thin-evidence note and too_few_cases are one cause: keep the one
        # that says how many cases are missing.
        flags = [f for f in flags if not (f.scope == "session" and f.kind == "not_enough_evidence")]
        flags.append(_too_few_cases(inputs))
    return sorted(flags, key=lambda flag: SEVERITIES.index(flag.severity))


def _who(scope: str, subject: str | None) -> str:
    return {"session": "The raters", "group": f"Vendor {subject}", "site": f"Site {subject}"}.get(
        scope, str(subject)
    )


def _alpha_candidates(
    inputs: FlagInputs,
    scope: str,
    subject: str | None,
    alpha: float | None,
    interval: tuple[float, float] | None,
    p_threshold: float | None,
    p_reliable: float | None,
    n: int,
) -> list[_Candidate]:
    """Misaligned (high) or tentative (medium) alpha, when its interval shows it."""
    if alpha is None:
        return []
    raters = "The raters" if scope == "session" else f"{_who(scope, subject)}'s raters"
    if interval is None or p_threshold is None or p_reliable is None:
        if alpha < inputs.alpha_reliable:
            shown, threshold = _pair(alpha, inputs.alpha_threshold)
            return [
                _Candidate(
                    Flag(scope, subject, "misaligned", "high", alpha, inputs.alpha_threshold, ""),
                    1.0,
                    False,
                    f"alpha {alpha:.3f} on {n} shared cases is too little evidence to judge "
                    f"against {inputs.alpha_threshold:.3f}",
                )
            ]
        return []
    threshold = inputs.alpha_threshold
    if alpha < threshold:
        shown, target = _pair(alpha, threshold)
        message = (
            f"{raters} agree too little to rely on their labels: alpha {shown} "
            f"({_range(interval)}, {n} cases) is below {target}. Recalibrate on the most "
            "contested cases and clarify the policy before go-live."
        )
        return [
            _Candidate(
                Flag(scope, subject, "misaligned", "high", alpha, threshold, message, interval, n),
                p_threshold,
                interval[1] < threshold,
                f"alpha {alpha:.3f} is below {threshold:.3f} but its 95% interval "
                f"({interval[0]:.3f}–{interval[1]:.3f}) reaches above it",
            )
        ]
    reliable = inputs.alpha_reliable
    if alpha < reliable:
        shown, target = _pair(alpha, reliable)
        message = (
            f"{raters} agree only tentatively: alpha {shown} ({_range(interval)}, "
            f"{n} cases) is below {target}. Review the flagged labels and raters before "
            "relying on these results."
        )
        return [
            _Candidate(
                Flag(scope, subject, "tentative", "medium", alpha, reliable, message, interval, n),
                p_reliable,
                interval[1] < reliable,
                None,
            )
        ]
    return []


def _session_candidates(inputs: FlagInputs) -> list[_Candidate]:
    return _alpha_candidates(
        inputs,
        "session",
        None,
        inputs.alpha,
        inputs.alpha_ci,
        inputs.alpha_p_meets,
        inputs.alpha_reliable_p_meets,
        inputs.n_pairable,
    )


def _subset_candidates(
    inputs: FlagInputs, scope: str, entry: GroupFigures | SiteFigures, subset: _Subset
) -> list[_Candidate]:
    resampling, statistics = inputs.resampling, inputs.statistics
    name = subset.name
    stat = statistics[("alpha", name, id(subset))]
    candidates = _alpha_candidates(
        inputs,
        scope,
        name,
        entry.alpha,
        entry.alpha_ci,
        resampling.p_meets(stat, inputs.alpha_threshold) if entry.alpha_ci else None,
        resampling.p_meets(stat, inputs.alpha_reliable) if entry.alpha_ci else None,
        entry.n_pairable,
    )
    who = _who(scope, name)
    target = inputs.accuracy_target
    if entry.accuracy is not None and entry.accuracy < target:
        if entry.accuracy_ci is None:
            candidates.append(
                _Candidate(
                    Flag(scope, name, "low_accuracy", "high", entry.accuracy, target, ""),
                    1.0,
                    False,
                    f"accuracy {_percent(entry.accuracy)} on {entry.n_golden} golden cases is "
                    f"too little evidence to judge against {_percent(target)}",
                )
            )
        else:
            shown, goal = _pair(entry.accuracy, target, percent=True)
            message = (
                f"{who}'s labels match golden {shown} of the time "
                f"({_range(entry.accuracy_ci, percent=True)}, {entry.n_golden} golden cases), "
                f"below the {goal} target; go through the misses with its QA lead."
            )
            accuracy_stat = statistics[("accuracy", name, id(subset))]
            candidates.append(
                _Candidate(
                    Flag(
                        scope,
                        name,
                        "low_accuracy",
                        "high",
                        entry.accuracy,
                        target,
                        message,
                        entry.accuracy_ci,
                        entry.n_golden,
                    ),
                    resampling.p_meets(accuracy_stat, target) or 1.0,
                    entry.accuracy_ci[1] < target,
                    f"accuracy {_percent(entry.accuracy)} is below {_percent(target)} but its "
                    "95% interval reaches above it",
                )
            )
    for misread in subset.misreads:
        if misread.n < inputs.minimums.misread_cases or misread.interval is None:
            continue
        candidates.append(
            _Candidate(
                _misread_flag(inputs, scope, name, misread),
                misread.p_value if misread.p_value is not None else 1.0,
                misread.interval[0] > misread.others_share,
            )
        )
    return candidates


def _name(inputs: FlagInputs, label: str) -> str:
    return inputs.label_names.get(label, label)


def _misread_flag(inputs: FlagInputs, scope: str, name: str, misread: Misread) -> Flag:
    who = _who(scope, name)
    others = "other vendors" if scope == "group" else "other sites' raters"
    golden, given = _name(inputs, misread.golden), _name(inputs, misread.given)
    where = (
        f"{golden} cases"
        if misread.reference == "golden"
        else f"cases everyone else labels {golden}"
    )
    message = (
        f"{who} labels {where} as {given} {_percent(misread.share)} of the time "
        f"({_range(misread.interval, percent=True)}, {misread.n} cases); {others} "
        f"{_percent(misread.others_share)}. Go through the {golden} examples and the line "
        f"between {golden} and {given} with its QA leads."
    )
    return Flag(
        scope=scope,
        subject=name,
        kind="misreads",
        severity="high",
        value=misread.share,
        threshold=misread.others_share,
        message=message,
        interval=misread.interval,
        n=misread.n,
        golden=misread.golden,
        given=misread.given,
        share=misread.share,
        others_share=misread.others_share,
    )


def _rater_candidates(inputs: FlagInputs) -> list[_Candidate]:
    candidates = []
    target = inputs.accuracy_target
    for rater in inputs.raters:
        name = rater.rater
        if (
            rater.accuracy is not None
            and rater.accuracy < target
            and rater.n_golden >= inputs.minimums.rater_golden_cases
        ):
            shown, goal = _pair(rater.accuracy, target, percent=True)
            hits = round(rater.accuracy * rater.n_golden)
            if rater.model:
                advice = (
                    "review its errors by label and correct its prompt, rules or training "
                    "data before it labels production cases."
                )
                subject = f"Model {name}"
            else:
                advice = "go through their misses with them before they label production cases."
                subject = name
            message = (
                f"{subject} matches golden on {shown} of {rater.n_golden} golden cases "
                f"({_range(rater.accuracy_ci, percent=True)}), below the {goal} target; {advice}"
            )
            candidates.append(
                _Candidate(
                    Flag(
                        "rater",
                        name,
                        "low_accuracy",
                        "high",
                        rater.accuracy,
                        target,
                        message,
                        rater.accuracy_ci,
                        rater.n_golden,
                    ),
                    binomial_p_below(hits, rater.n_golden, target),
                    rater.accuracy_ci is not None and rater.accuracy_ci[1] < target,
                )
            )
        stat = inputs.statistics.get(("loo", name, 0))
        if (
            stat is not None
            and rater.loo_delta_ci is not None
            and rater.alpha_without is not None
            and inputs.alpha is not None
        ):
            whose = "its" if rater.model else "their"
            message = (
                f"Leaving {name} out raises alpha from {inputs.alpha:.3f} to "
                f"{rater.alpha_without:.3f} (change +{rater.loo_delta:.3f}, "
                f"{_range(rater.loo_delta_ci)}, {inputs.n_pairable} cases); compare {whose} "
                "labels with the majority and with golden, and go through the cases where "
                "they differ."
            )
            candidates.append(
                _Candidate(
                    Flag(
                        "rater",
                        name,
                        "pulls_down_agreement",
                        "medium",
                        rater.loo_delta,
                        inputs.loo_threshold,
                        message,
                        rater.loo_delta_ci,
                        inputs.n_pairable,
                    ),
                    inputs.resampling.p_meets(stat, 0.0, above=False) or 1.0,
                    rater.loo_delta_ci[0] > 0,
                )
            )
    return candidates


def _label_candidates(inputs: FlagInputs) -> list[_Candidate]:
    candidates = []
    for label in inputs.labels:
        name = _name(inputs, label.label)
        one_vs_rest = label.alpha_one_vs_rest
        # With two labels in use, "this label or not" is the whole scale: its alpha is the
        # session's alpha, already judged.
        if (
            one_vs_rest is not None
            and label.alpha_one_vs_rest_ci is not None
            and inputs.n_categories_used > 2
            and one_vs_rest < inputs.alpha_threshold
        ):
            shown, threshold = _pair(one_vs_rest, inputs.alpha_threshold)
            stat = inputs.statistics[("one_vs_rest", label.label, 0)]
            message = (
                f"Raters do not agree on when to use {name!r}: its one-versus-rest alpha is "
                f"{shown} ({_range(label.alpha_one_vs_rest_ci)}, {inputs.n_pairable} cases), "
                f"below {threshold}; sharpen its definition and add examples to the guidelines."
            )
            candidates.append(
                _Candidate(
                    Flag(
                        "label",
                        label.label,
                        "label_misaligned",
                        "high",
                        one_vs_rest,
                        inputs.alpha_threshold,
                        message,
                        label.alpha_one_vs_rest_ci,
                        inputs.n_pairable,
                    ),
                    inputs.resampling.p_meets(stat, inputs.alpha_threshold) or 1.0,
                    label.alpha_one_vs_rest_ci[1] < inputs.alpha_threshold,
                )
            )
        target = inputs.accuracy_target
        if label.recall is not None and label.recall_ci is not None and label.recall < target:
            shown, goal = _pair(label.recall, target, percent=True)
            stat = inputs.statistics[("recall", label.label, 0)]
            message = (
                f"Cases whose golden label is {name!r} got that label only {shown} of the "
                f"time ({_range(label.recall_ci, percent=True)}, {label.n_golden} cases; "
                f"target {goal}); add such cases to the training set and review what raters "
                "chose instead."
            )
            candidates.append(
                _Candidate(
                    Flag(
                        "label",
                        label.label,
                        "low_recall",
                        "medium",
                        label.recall,
                        target,
                        message,
                        label.recall_ci,
                        label.n_golden,
                    ),
                    inputs.resampling.p_meets(stat, target) or 1.0,
                    label.recall_ci[1] < target,
                )
            )
    return candidates


def _fold_label_flags_into_session(inputs: FlagInputs, flags: list[Flag]) -> list[Flag]:
    """When the whole session is misaligned, a label is a cause of its own only if it is
    distinctly worse than the session: its interval lies below the session's alpha."""
    if not any(f.scope == "session" and f.kind == "misaligned" for f in flags):
        return flags
    return [
        f
        for f in flags
        if not (
            f.kind == "label_misaligned"
            and f.interval is not None
            and inputs.alpha is not None
            and f.interval[1] >= inputs.alpha
        )
    ]


def _vendors_that_are_one_site(inputs: FlagInputs) -> set[str]:
    """Vendors whose raters are exactly one site's raters: the vendor's figures restate the
    site's, and the site (which the rollout gate reads) carries the flag."""
    sites = {frozenset(subset.rater_positions.tolist()) for _, subset in inputs.sites}
    return {
        subset.name
        for _, subset in inputs.groups
        if frozenset(subset.rater_positions.tolist()) in sites
    }


def _fold_rater_flags(inputs: FlagInputs, flags: list[Flag]) -> list[Flag]:
    """One flag per rater and cause.

    A rater whose vendor or site misreads a label, and who meets the accuracy target on
    every other golden label, shares the group's cause: the group's flag carries it. A
    rater who misses golden and pulls agreement down keeps the accuracy flag only.
    """
    misread_labels: dict[tuple[str, str], list[str]] = {}
    for flag in flags:
        if flag.kind == "misreads" and flag.golden is not None:
            misread_labels.setdefault((flag.scope, flag.subject), []).append(flag.golden)
    figures = {rater.rater: rater for rater in inputs.raters}
    dropped: set[int] = set()
    for flag in flags:
        if flag.scope != "rater" or flag.kind != "low_accuracy":
            continue
        rater = figures[flag.subject]
        labels = misread_labels.get(("group", rater.group), []) + misread_labels.get(
            ("site", rater.site), []
        )
        if labels:
            rest = inputs.rater_accuracy_without(rater.rater, labels)
            if rest is None or rest >= flag.threshold:
                dropped.add(id(flag))
    flags = [f for f in flags if id(f) not in dropped]
    inaccurate = {f.subject: f for f in flags if f.scope == "rater" and f.kind == "low_accuracy"}
    kept = []
    for flag in flags:
        if flag.scope == "rater" and flag.kind == "pulls_down_agreement":
            main = inaccurate.get(flag.subject)
            if main is not None:
                main.message += (
                    f" Leaving them out also raises alpha by {flag.value:.3f} "
                    f"({_range(flag.interval)})."
                )
                continue
        kept.append(flag)
    return kept


def _explain_groups(
    inputs: FlagInputs, flags: list[Flag], notes: dict[tuple[str, str | None], list[str]]
) -> list[Flag]:
    """Drop vendor, site and session flags that a flagged rater or a misreading explains."""
    flagged_raters = sorted(
        {f.subject for f in flags if f.scope == "rater" and f.subject is not None}
    )
    entries = {("group", s.name): (e, s) for e, s in inputs.groups}
    entries.update({("site", s.name): (e, s) for e, s in inputs.sites})
    rater_names_of = {
        key: {
            r.rater for r in inputs.raters if (r.group if key[0] == "group" else r.site) == key[1]
        }
        for key in entries
    }
    by_subject: dict[tuple[str, str | None], list[Flag]] = {}
    for flag in flags:
        by_subject.setdefault((flag.scope, flag.subject), []).append(flag)
    dropped: set[int] = set()
    for key, subject_flags in by_subject.items():
        scope = key[0]
        if scope not in ("group", "site", "session"):
            continue
        symptoms = [
            f for f in subject_flags if f.kind in ("misaligned", "tentative", "low_accuracy")
        ]
        if not symptoms:
            continue
        if scope == "session":
            names = flagged_raters
            alpha_without = inputs.session_without(names) if names else None
            accuracy_without = None
        else:
            names = sorted(rater_names_of[key] & set(flagged_raters))
            alpha_without, accuracy_without = (
                inputs.without(entries[key][1], names) if names else (None, None)
            )
        misreads = [f for f in subject_flags if f.kind == "misreads"]
        explained = []
        for flag in symptoms:
            if (
                flag.kind == "low_accuracy"
                and misreads
                and scope != "session"
                and _accuracy_outside_misreads(entries[key][0], misreads, inputs) >= flag.threshold
            ):
                misreads[0].message += f" This accounts for its accuracy of {_percent(flag.value)}."
                explained.append(flag)
                continue
            if not names:
                continue
            if flag.kind == "low_accuracy":
                meets = accuracy_without is not None and accuracy_without >= flag.threshold
            else:
                # Without the flagged raters fewer than two may be left: then nothing is
                # left to disagree, and the flagged raters carry the finding.
                meets = alpha_without is None or alpha_without >= flag.threshold
            if meets:
                explained.append(flag)
        if explained and len(explained) == len(symptoms):
            dropped.update(id(f) for f in explained)
            if scope != "session" and names:
                entries[key][0].explained_by = names
            # Its evidence note, if any, would restate what the rater's flag says.
            notes.pop(key, None)
        elif explained:
            dropped.update(id(f) for f in explained if f.kind == "low_accuracy" and misreads)
    # A misreading shared by a vendor and its sites restates one cause: keep the vendor's,
    # unless one site accounts for it, in which case keep the site's.
    kept = [f for f in flags if id(f) not in dropped]
    return _fold_misreads(inputs, kept)


def _accuracy_outside_misreads(
    entry: GroupFigures | SiteFigures, misreads: list[Flag], inputs: FlagInputs
) -> float:
    """The entry's accuracy on golden cases other than the misread labels' ones."""
    if entry.confusion is None:
        return 0.0
    confusion = np.asarray(entry.confusion, dtype=np.float64)
    rows = [inputs_index(inputs, f.golden) for f in misreads]
    keep = np.ones(len(confusion), dtype=bool)
    keep[[r for r in rows if r is not None]] = False
    total = confusion[keep].sum()
    hits = np.trace(confusion * keep[:, None])
    return float(hits / total) if total else 1.0


def inputs_index(inputs: FlagInputs, label: str | None) -> int | None:
    """The position of a label in the domain, found through the label figures."""
    for position, figures in enumerate(inputs.labels):
        if figures.label == label:
            return position
    return None


def _fold_misreads(inputs: FlagInputs, flags: list[Flag]) -> list[Flag]:
    vendor_of_site = {}
    for site_entry, site in inputs.sites:
        for vendor_entry, vendor in inputs.groups:
            if set(site.rater_positions.tolist()) <= set(vendor.rater_positions.tolist()):
                vendor_of_site[site.name] = (vendor_entry, vendor, site_entry, site)
    vendor_misreads = {
        (f.subject, f.golden, f.given): f
        for f in flags
        if f.scope == "group" and f.kind == "misreads"
    }
    dropped: set[int] = set()
    for flag in flags:
        if flag.scope != "site" or flag.kind != "misreads" or flag.subject not in vendor_of_site:
            continue
        vendor_entry, vendor, site_entry, site = vendor_of_site[flag.subject]
        vendor_flag = vendor_misreads.get((vendor.name, flag.golden, flag.given))
        if vendor_flag is None:
            continue
        remaining = _share_without(vendor_entry, site_entry, flag, inputs)
        if remaining is not None and remaining - vendor_flag.others_share < MISREAD_MIN_EXCESS:
            # Without this site the vendor reads the label like everyone else.
            dropped.add(id(vendor_flag))
            vendor_entry.explained_by = sorted({*(vendor_entry.explained_by or []), site.name})
        else:
            dropped.add(id(flag))
    return [f for f in flags if id(f) not in dropped]


def _share_without(vendor_entry, site_entry, flag: Flag, inputs: FlagInputs) -> float | None:
    if vendor_entry.confusion is None or site_entry.confusion is None:
        return None
    row, column = inputs_index(inputs, flag.golden), inputs_index(inputs, flag.given)
    vendor = np.asarray(vendor_entry.confusion, dtype=np.float64)
    site = np.asarray(site_entry.confusion, dtype=np.float64)
    total = vendor[row].sum() - site[row].sum()
    return float((vendor[row, column] - site[row, column]) / total) if total else 0.0


def _explain_labels(inputs: FlagInputs, flags: list[Flag]) -> list[Flag]:
    """A label flag that flagged raters or a misreading vendor account for drops to low."""
    label_flags = [f for f in flags if f.scope == "label"]
    if not label_flags:
        return flags
    causes = [f for f in flags if f.scope == "rater" or f.kind == "misreads"]
    if not causes:
        return flags
    for flag in label_flags:
        involved = [c for c in causes if c.scope == "rater" or flag.subject in (c.golden, c.given)]
        if not involved:
            continue
        excluded: set[str] = set()
        for cause in involved:
            if cause.scope == "rater":
                excluded.add(cause.subject)
            else:
                excluded |= {
                    r.rater
                    for r in inputs.raters
                    if (r.group if cause.scope == "group" else r.site) == cause.subject
                }
        one_vs_rest, recall = inputs.label_without(sorted(excluded))[flag.subject]
        figure = one_vs_rest if flag.kind == "label_misaligned" else recall
        if figure is not None and figure >= flag.threshold:
            names = ", ".join(
                f"{'vendor' if c.scope == 'group' else c.scope} {c.subject} ({c.kind})"
                for c in involved
            )
            flag.severity = "low"
            flag.explained_by = names
            flag.message += f" Without {names} it reaches {figure:.3f}: start there."
    return flags


def _evidence_notes(
    inputs: FlagInputs, notes: dict[tuple[str, str | None], list[str]], raised: list[Flag]
) -> list[Flag]:
    """One low note per vendor, site or session whose evidence is too thin to judge."""
    flags = []
    for (scope, subject), sentences in notes.items():
        if scope in ("group", "site") and any(
            f.scope == scope and f.subject == subject for f in raised
        ):
            continue
        entry = _entry(inputs, scope, subject)
        if entry is not None and entry.explained_by:
            continue
        who = _who(scope, subject)
        text = "; ".join(dict.fromkeys(s.rstrip(".") for s in sentences))
        flags.append(
            Flag(
                scope=scope,
                subject=subject,
                kind="not_enough_evidence",
                severity="low",
                value=None,
                threshold=None,
                message=f"{who}: {text}. Label more cases before treating this as settled.",
                n=entry.n_pairable if entry is not None else inputs.n_pairable,
            )
        )
    return flags


def _entry(inputs: FlagInputs, scope: str, subject: str | None):
    entries = inputs.groups if scope == "group" else inputs.sites if scope == "site" else []
    return next((entry for entry, subset in entries if subset.name == subject), None)


def _too_few_cases(inputs: FlagInputs) -> Flag:
    size = inputs.sample_size
    return Flag(
        scope="session",
        subject=None,
        kind="too_few_cases",
        severity="low",
        value=inputs.n_pairable,
        threshold=size.needed,
        n=inputs.n_pairable,
        message=(
            f"Only {inputs.n_pairable} cases were labelled by two or more raters; about "
            f"{size.needed - inputs.n_pairable} more (at least {size.needed} in all) are "
            f"needed to tell whether alpha clears {inputs.alpha_threshold:.3f} at "
            f"{inputs.significance:.0%} significance, because the rarest label, "
            f"{_name(inputs, size.rarest_label)!r}, makes up only {size.rarest_share:.0%} of "
            "the labels."
        ),
    )
