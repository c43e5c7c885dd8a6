"""Times on pages, in exports and in the zone picker, as each reader expects them."""

from __future__ import annotations

import csv
import io
import re

from calibration import services
from rollcal.accounts.models import Role
from tests.calibration_factories import case_ids, run_session


def test_pages_show_times_in_the_readers_zone_by_city_and_offset(
    client, auth, create_user, create_site, create_vendor
):
    """A rater in Manila reads session times as "…, HH:MM (Manila, UTC+8)", never "PST"."""
    vendor = create_vendor("Meridian CX")
    site = create_site(vendor, "Cebu")
    pom = create_user(Role.POM)
    maria = create_user(Role.QA_LEAD, vendor=vendor, timezone="Asia/Manila")
    session = run_session(
        pom,
        [(maria, site), (create_user(Role.QA_LEAD, vendor=vendor), site)],
        cases=2,
        answer=lambda rater, case: None,
        until="open",
    )
    auth.login(maria)
    page = client.get(f"/calibration/sessions/{session.id}").get_data(as_text=True)
    assert re.search(r"\w{3} \d{1,2} \w{3}(?: \d{4})?, \d\d:\d\d \(Manila, UTC\+8\)", page)
    assert "PST" not in page and "+08" not in page


def test_label_export_times_are_iso_8601_with_offset_to_the_second(
    client, auth, create_user, create_site, create_vendor
):
    """``updated_at`` in labels.csv reads like 2026-12-01T09:30:05+00:00."""
    vendor = create_vendor()
    site = create_site(vendor)
    pom = create_user(Role.POM)
    maria = create_user(Role.QA_LEAD, vendor=vendor)
    session = run_session(
        pom,
        [(maria, site), (create_user(Role.QA_LEAD, vendor=vendor), site)],
        cases=2,
        answer=lambda rater, case: None,
        until="open",
    )
    option = session.label_options[0]["key"]
    services.save_labels(
        maria, session, [services.LabelInput(option=option, case_id=case_ids(session)[0])]
    )
    auth.login(maria)
    text = client.get(f"/calibration/sessions/{session.id}/labels.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", rows[0]["updated_at"])


def test_zone_picker_is_grouped_with_common_zones_first(client, auth, create_user):
    """The account page's picker has optgroups, "Common" first, and no "Factory"."""
    auth.login(create_user(Role.POM))
    page = client.get("/account").get_data(as_text=True)
    groups = re.findall(r'<optgroup label="([^"]+)"', page)
    assert groups[0] == "Common" and "Asia" in groups and "Europe" in groups
    assert 'value="Factory"' not in page and 'value="localtime"' not in page
    assert ">Manila (UTC+8)</option>" in page


def test_a_new_person_has_no_role_until_the_admin_chooses_one(client, auth, create_user):
    """The role starts empty, and leaving it so is an error naming the field."""
    auth.login(create_user(Role.ADMIN))
    form = client.get("/admin/users/new").get_data(as_text=True)
    role = re.search(r'<select id="role".*?</select>', form, re.S).group(0)
    assert '<option value="">Choose a role…</option>' in role and "selected" not in role
    response = client.post(
        "/admin/users/new",
        data={
            "email": "x@example.com",
            "name": "X",
            "role": "",
            "vendor": 0,
            "timezone": "UTC",
        },
    )
    assert "Choose the person&#39;s role." in response.get_data(as_text=True)
