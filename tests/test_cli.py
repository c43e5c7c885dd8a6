"""The rollcal command line."""

import sqlalchemy as sa

from rollcal.accounts.models import Role, User
from rollcal.accounts.services import authenticate
from rollcal.demo import DEMO_PASSWORD, seed_demo
from rollcal.org.demo import demo_logins
from rollcal.org.models import Market, Site, Vendor


def test_users_create_reads_the_password_from_standard_input(runner, db, create_vendor):
    create_vendor("Meridian CX")
    result = runner.invoke(
        args=[
            "users",
            "create",
            "qa@meridian.example.com",
            "--role",
            "qa_lead",
            "--vendor",
            "meridian cx",
            "--name",
            "Maria Santos",
        ],
        input="a-long-password\n",
    )
    assert result.exit_code == 0, result.output
    user = authenticate("qa@meridian.example.com", "a-long-password")
    assert user.name == "Maria Santos" and user.vendor.name == "Meridian CX"


def test_users_create_names_what_is_wrong(runner, db):
    result = runner.invoke(
        args=["users", "create", "x@example.com", "--role", "qa_lead"], input="a-long-password\n"
    )
    assert result.exit_code != 0
    assert "a QA lead belongs to exactly one vendor" in result.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_users_create_refuses_an_unknown_vendor(runner, db):
    result = runner.invoke(
        args=["users", "create", "x@example.com", "--role", "qa_lead", "--vendor", "Nobody"],
        input="a-long-password\n",
    )
    assert result.exit_code == 2 and "no vendor is called" in result.output


def test_seed_demo_loads_the_organisation_and_is_safe_to_run_twice(runner, db):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    count = lambda model: db.session.scalar(sa.select(sa.func.count(model.id)))  # noqa: E731
    assert count(Vendor) == 5 and count(Site) == 10 and count(Market) == 8
    regions = set(db.session.scalars(sa.select(Market.region)))
    assert {r.value for r in regions} == {"APAC", "EMEA", "AMER"}


def test_every_demo_log_in_works_with_the_demo_password(db):
    seed_demo()
    logins = demo_logins()
    assert ("admin@example.com", "admin") in logins
    assert ("qa@meridian-cx.example.com", "qa_lead") in logins
    for email, role in logins:
        user = authenticate(email, DEMO_PASSWORD)
        assert user is not None and user.role == Role(role)
    leads = db.session.scalars(sa.select(User).where(User.role == Role.QA_LEAD)).all()
    assert len({lead.vendor_id for lead in leads}) == 5


def test_agreement_is_a_rollcal_command_and_prints_the_published_alpha(runner):
    from pathlib import Path

    data = Path(__file__).parent / "data" / "krippendorff_2011.csv"
    result = runner.invoke(args=["agreement", str(data), "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    assert "Krippendorff's alpha    0.743" in result.output
