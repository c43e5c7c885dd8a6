"""Cross-market alignment: a market whose cases are read differently is named, with its
figures and the other markets' share; honest markets stay quiet; QA leads cannot see it."""

import numpy as np
import pytest
import sqlalchemy as sa

from calibration import alignment, services
from calibration.models import QualityPoint
from rollcal.accounts.models import Role
from rollcal.org.models import Region
from tests.calibration_factories import label_all

GOLDEN = ("remove", "allow")
OPTIONS = "remove | Remove\nallow | Allow"


@pytest.fixture
def markets(create_user, create_site, create_vendor, create_market):
    indonesia = create_market("ID", "Indonesia", Region.APAC)
    germany = create_market("DE", "Germany", Region.EMEA)
    meridian, harbor = create_vendor("Meridian CX"), create_vendor("Harbor Review")
    cebu = create_site(meridian, "Cebu", markets=[indonesia, germany])
    dublin = create_site(harbor, "Dublin", markets=[indonesia, germany])
    pom = create_user(Role.POM)
    raters = [
        (create_user(Role.QA_LEAD, vendor=meridian, name=f"M{n}"), cebu) for n in range(3)
    ] + [(create_user(Role.QA_LEAD, vendor=harbor, name=f"H{n}"), dublin) for n in range(3)]
    return {"pom": pom, "raters": raters, "indonesia": indonesia, "germany": germany}


def _revealed(markets, cases: int = 80):
    """Even cases are Indonesian, odd German; on Indonesian cases golden "allow", every
    rater answers "remove"; everywhere else they are right."""
    pom = markets["pom"]
    session = services.create_session(pom, title="Round 1", label_options=OPTIONS)
    for user, site in markets["raters"]:
        services.add_human_rater(pom, session, user_id=user.id, site_id=site.id)
    lines = ["reference,text,market,golden"]
    for index in range(cases):
        market = "ID" if index % 2 == 0 else "DE"
        lines.append(f"C-{index},Listing {index},{market},{GOLDEN[(index // 2) % 2]}")
    services.import_cases(pom, session, ("\n".join(lines) + "\n").encode())
    services.open_session(pom, session)

    def answer(rater, case):
        golden = GOLDEN[(case // 2) % 2]
        return "remove" if case % 2 == 0 and golden == "allow" else golden

    label_all(session, [user for user, _ in markets["raters"]], answer)
    services.close_session(pom, session)
    services.reveal_session(pom, session)
    return session


def _rows(db, session):
    return {
        row.subject: row
        for row in db.session.scalars(
            sa.select(QualityPoint).where(
                QualityPoint.session_id == session.id,
                sa.or_(QualityPoint.market_id.is_not(None), QualityPoint.region.is_not(None)),
            )
        )
    }


def test_a_market_whose_cases_are_read_differently_is_named_and_the_other_is_not(db, markets):
    session = _revealed(markets)
    rows = _rows(db, session)
    indonesia, germany = f"m{markets['indonesia'].id}", f"m{markets['germany'].id}"

    assert rows[germany].accuracy == 1.0
    assert rows[indonesia].accuracy == 0.5  # every "allow" case read as "remove"
    assert rows[indonesia].n_golden == 40 and rows[indonesia].accuracy_low is not None
    assert rows["rEMEA"].accuracy == 1.0 and rows["rAPAC"].accuracy == 0.5
    vendor_rows = [s for s in rows if s.startswith(indonesia + "v")]
    assert len(vendor_rows) == 2  # both vendors serve Indonesia

    found = alignment.misreads([rows[indonesia], rows[germany]])

    assert found == {
        indonesia: [
            {"golden": "Allow", "given": "Remove", "share": 1.0, "others_share": 0.0, "n": 120}
        ]
    }


def test_intervals_are_withheld_below_thirty_cases(db, markets):
    rows = _rows(db, _revealed(markets, cases=40))

    indonesia = rows[f"m{markets['indonesia'].id}"]
    assert indonesia.n_golden == 20
    assert indonesia.accuracy_low is None and indonesia.alpha_low is None


def test_bca_intervals_cover_a_markets_accuracy_in_simulation():
    rng = np.random.default_rng(5)
    covered = 0
    for _ in range(200):
        counts = np.zeros((60, 2))
        golden = np.zeros(60, dtype=int)
        for case in range(60):
            counts[case, 0] = rng.binomial(4, 0.85)
            counts[case, 1] = 4 - counts[case, 0]
        figures = alignment.group_figures(
            counts, golden, categories=["a", "b"], level="nominal", n_raters=4, seed=1
        )
        low, high = figures.accuracy_ci
        covered += low <= 0.85 <= high
    assert covered >= 180  # at least 90%


def test_the_alignment_page_shows_markets_regions_and_vendors_to_those_who_see_every_vendor(
    client, auth, db, markets
):
    _revealed(markets)
    auth.login(markets["pom"])

    page = client.get("/scorecards/alignment").get_data(as_text=True)

    assert "ID · Indonesia" in page and "DE · Germany" in page
    assert "“Allow” read as “Remove”: 100%" in page
    assert "Vendors serving several markets" in page and "Harbor Review" in page
    assert "EMEA" in page and "APAC" in page

    auth.login(markets["raters"][0][0])
    assert client.get("/scorecards/alignment").status_code == 403
