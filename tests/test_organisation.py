"""Admins maintain the organisation; everyone sees what their role allows."""

import sqlalchemy as sa

from rollcal.accounts.models import Role, User
from rollcal.org.models import Market, Site, Vendor


def test_admin_creates_a_market_and_sees_it_listed(client, auth, db, create_user):
    auth.login(create_user(Role.ADMIN))
    response = client.post(
        "/admin/markets/new",
        data={"code": "id", "name": "Indonesia", "region": "APAC", "active": "y"},
    )
    assert response.status_code == 302
    assert "Indonesia" in client.get("/admin/markets").get_data(as_text=True)
    assert db.session.scalar(sa.select(Market.code)) == "ID"


def test_duplicate_market_code_is_refused_beside_the_field_and_nothing_written(
    client, auth, db, create_user, create_market
):
    create_market(code="GB", name="United Kingdom")
    auth.login(create_user(Role.ADMIN))
    response = client.post(
        "/admin/markets/new", data={"code": "gb", "name": "Britain", "region": "EMEA"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "another market already uses “GB”" in page
    assert db.session.scalar(sa.select(sa.func.count(Market.id))) == 1


def test_admin_deactivates_a_vendor(client, auth, db, create_user, create_vendor):
    vendor = create_vendor("Lumen Ops")
    auth.login(create_user(Role.ADMIN))
    client.post(f"/admin/vendors/{vendor.id}/edit", data={"name": "Lumen Ops"})
    db.session.expire_all()
    assert db.session.get(Vendor, vendor.id).active is False
    assert "inactive" in client.get("/admin/vendors").get_data(as_text=True)


def test_vendor_owners_must_be_poms(client, auth, db, create_user):
    auth.login(create_user(Role.ADMIN))
    stakeholder = create_user(Role.STAKEHOLDER)
    response = client.post(
        "/admin/vendors/new", data={"name": "Harbor Review", "owners": [str(stakeholder.id)]}
    )
    assert "not a valid choice" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Vendor.id))) == 0


def test_site_needs_a_market_and_a_line_of_business(
    client, auth, db, create_user, create_vendor, create_market, create_line
):
    vendor = create_vendor()
    market, line = create_market(code="PH"), create_line("Live")
    auth.login(create_user(Role.ADMIN))
    refused = client.post(
        "/admin/sites/new",
        data={
            "vendor": vendor.id,
            "name": "Cebu",
            "city": "Cebu City",
            "lines_of_business": [line.id],
        },
    )
    assert "choose at least one market" in refused.get_data(as_text=True)
    accepted = client.post(
        "/admin/sites/new",
        data={
            "vendor": vendor.id,
            "name": "Cebu",
            "city": "Cebu City",
            "markets": [market.id],
            "lines_of_business": [line.id],
            "active": "y",
        },
    )
    assert accepted.status_code == 302
    site = db.session.scalar(sa.select(Site))
    assert [m.code for m in site.markets] == ["PH"] and site.vendor_id == vendor.id


def test_qa_lead_must_have_a_vendor_and_others_must_not(
    client, auth, db, create_user, create_vendor
):
    vendor = create_vendor()
    auth.login(create_user(Role.ADMIN))
    base = {
        "email": "lead@example.com",
        "name": "Lead",
        "timezone": "UTC",
        "active": "y",
    }
    no_vendor = client.post("/admin/users/new", data={**base, "role": "qa_lead", "vendor": 0})
    assert "a QA lead belongs to exactly one vendor" in no_vendor.get_data(as_text=True)
    pom_vendor = client.post("/admin/users/new", data={**base, "role": "pom", "vendor": vendor.id})
    assert "only QA leads belong to a vendor" in pom_vendor.get_data(as_text=True)
    created = client.post("/admin/users/new", data={**base, "role": "qa_lead", "vendor": vendor.id})
    assert created.status_code == 302
    lead = db.session.scalar(sa.select(User).where(User.email == "lead@example.com"))
    assert lead.vendor_id == vendor.id and lead.role == Role.QA_LEAD


def test_admin_cannot_lock_themselves_out(client, auth, create_user):
    admin = auth.login(create_user(Role.ADMIN))
    response = client.post(
        f"/admin/users/{admin.id}",
        data={
            "email": admin.email,
            "name": admin.name,
            "role": "pom",
            "vendor": 0,
            "timezone": "UTC",
            "active": "y",
        },
    )
    assert "you cannot remove your own admin access" in response.get_data(as_text=True)


def test_qa_lead_home_shows_own_vendor_and_sites_only(client, auth, create_user, create_site):
    own = create_site(name="Manila North")
    other = create_site(name="Dublin")
    auth.login(create_user(Role.QA_LEAD, vendor=own.vendor))
    page = client.get("/").get_data(as_text=True)
    assert "Manila North" in page and own.vendor.name in page
    assert "Dublin" not in page and other.vendor.name not in page


def test_pom_home_shows_the_organisation(client, auth, create_user, create_site):
    create_site(name="Manila North"), create_site(name="Dublin")
    auth.login(create_user(Role.POM))
    page = client.get("/").get_data(as_text=True)
    assert "Manila North" in page and "Dublin" in page


def test_home_for_an_empty_organisation_says_so(client, auth, create_user):
    auth.login(create_user(Role.ADMIN))
    assert "No vendors yet." in client.get("/").get_data(as_text=True)


def test_qa_lead_gets_404_on_another_vendors_site_and_vendor(
    client, auth, create_user, create_site
):
    own, other = create_site(), create_site()
    auth.login(create_user(Role.QA_LEAD, vendor=own.vendor))
    assert client.get(f"/sites/{own.id}").status_code == 200
    assert client.get(f"/sites/{other.id}").status_code == 404
    assert client.get(f"/vendors/{other.vendor_id}").status_code == 404


def test_user_list_is_paginated(app, client, auth, create_user):
    auth.login(create_user(Role.ADMIN, name="Aaron Admin"))
    for _ in range(4):
        create_user(Role.STAKEHOLDER)
    app.config["ROLLCAL_PAGE_SIZE"] = 2
    try:
        page = client.get("/admin/users").get_data(as_text=True)
        assert "Page 1 of 3" in page
        assert "Page 3 of 3" in client.get("/admin/users?page=3").get_data(as_text=True)
    finally:
        app.config["ROLLCAL_PAGE_SIZE"] = 50
