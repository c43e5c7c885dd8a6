"""A rater's results show their first hundred labels, the ones that missed golden first,
with a link to all of them."""

from __future__ import annotations

import re

from rollcal.accounts.models import Role
from tests.calibration_factories import run_session


def test_results_show_a_raters_first_hundred_labels_misses_first(
    client, auth, create_user, create_site, create_vendor
):
    vendor = create_vendor()
    site = create_site(vendor)
    pom = create_user(Role.POM)
    leads = [create_user(Role.QA_LEAD, vendor=vendor) for _ in range(2)]
    session = run_session(
        pom,
        [(lead, site) for lead in leads],
        cases=120,
        golden=lambda i: "remove",
        # The first rater misses golden on every tenth case only.
        answer=lambda rater, case: "allow" if rater == 0 and case % 10 == 9 else "remove",
    )
    auth.login(leads[0])
    page = client.get(f"/calibration/sessions/{session.id}/results").get_data(as_text=True)
    shown = re.findall(r'<td class="(match|miss)">', page)
    assert len(shown) == 100
    assert shown[:12] == ["miss"] * 12 and "miss" not in shown[12:]
    assert "all 120 of your labels" in page
