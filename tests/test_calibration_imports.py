"""Cases and model labels come from CSV files, imported whole or not at all."""

import io

import pytest
import sqlalchemy as sa

from calibration import imports, services
from calibration.models import Case, Label
from rollcal.accounts.models import Role
from rollcal.errors import ValidationError
from tests.calibration_factories import make_session


@pytest.fixture
def pom(create_user):
    """The POM running the session."""
    return create_user(Role.POM)


def _upload(client, session, content: bytes, which: str = "cases"):
    return client.post(
        f"/calibration/sessions/{session.id}/import",
        data={f"{which}-file": (io.BytesIO(content), "file.csv"), f"{which}-submit": "y"},
        content_type="multipart/form-data",
    )


def test_pom_imports_cases_with_golden_answers_and_markets(client, auth, db, pom, create_market):
    create_market(code="PH", name="Philippines")
    session = make_session(pom)
    auth.login(pom)
    content = (
        "\ufeffreference,text,url,market,policy_area,golden,rationale\n"
        "L-1,“Original” bag at 90% off,,ph,Counterfeit,remove,Brand logo on a replica\n"
        'L-2,"Second-hand bag, receipt shown",https://shop.example.com/2,,Counterfeit,allow,\n'
        "L-3,,https://shop.example.com/3,,,,\n"
    ).encode()
    response = _upload(client, session, content)
    assert response.status_code == 302
    cases = db.session.scalars(sa.select(Case).order_by(Case.position)).all()
    assert [c.reference for c in cases] == ["L-1", "L-2", "L-3"]
    assert cases[0].market.code == "PH" and cases[0].golden_label == "remove"
    assert cases[0].golden_rationale == "Brand logo on a replica"
    assert cases[1].content_text == "Second-hand bag, receipt shown"
    assert cases[2].golden_label is None and cases[2].content_url.endswith("/3")
    flashed = client.get(f"/calibration/sessions/{session.id}").get_data(as_text=True)
    assert "3 cases are added." in flashed


def test_a_file_with_problems_adds_nothing_and_names_each_line_and_column(client, auth, db, pom):
    session = make_session(pom)
    auth.login(pom)
    content = (
        b"reference,text,market,golden\n"
        b"L-1,Fine,,remove\n"
        b"L-2,Unknown label,,spam\n"
        b"L-1,Repeated reference,,allow\n"
        b",No reference,,\n"
        b"L-5,,ZZ,\n"
    )
    page = _upload(client, session, content).get_data(as_text=True)
    assert "Nothing was imported" in page
    assert "Line 3, golden: “spam” is not a label option (remove, allow, escalate)." in page
    assert "Line 4, reference: “L-1” is already on line 2." in page
    assert "Line 5, reference: is required." in page
    assert "Line 6, text: give the content as text, a url, or both." in page
    assert "Line 6, market: “ZZ” is not a market code we know." in page
    assert db.session.scalar(sa.select(sa.func.count(Case.id))) == 0


def test_unknown_and_missing_columns_are_named_on_line_one(db, pom):
    session = make_session(pom)
    with pytest.raises(ValidationError) as refused:
        services.import_cases(pom, session, b"ref,text,golen\nL-1,x,remove\n")
    fields = {(e["line"], e["field"]) for e in refused.value.errors}
    assert {(1, "ref"), (1, "golen"), (1, "reference")} <= fields


def test_a_file_that_is_not_utf8_names_the_line(db, pom):
    session = make_session(pom)
    with pytest.raises(ValidationError, match="Line 3: the file is not UTF-8"):
        services.import_cases(pom, session, b"reference,text\nL-1,ok\nL-2,caf\xe9\n")


def test_references_already_in_the_session_are_refused(db, pom):
    session = make_session(pom, cases=2)
    with pytest.raises(ValidationError, match="“C-2” is already a case of this session"):
        services.import_cases(pom, session, b"reference,text\nC-3,new\nC-2,again\n")
    assert db.session.scalar(sa.select(sa.func.count(Case.id))) == 2


def test_a_second_import_adds_cases_after_the_first(db, pom):
    session = make_session(pom, cases=2)
    services.import_cases(pom, session, b"reference,text\nD-1,later\n")
    positions = db.session.execute(sa.select(Case.reference, Case.position)).all()
    assert sorted(positions, key=lambda row: row[1])[-1] == ("D-1", 2)


def test_a_models_labels_are_imported_for_its_rater(client, auth, db, pom):
    session = make_session(pom, cases=3)
    services.add_model_rater(pom, session, name="ListingGuard", version="2.4")
    auth.login(pom)
    content = b"reference,rater,label\nC-1,ListingGuard 2.4,remove\nC-2,ListingGuard 2.4,ALLOW\n"
    assert _upload(client, session, content, "labels").status_code == 302
    labels = db.session.scalars(sa.select(Label.option_key).order_by(Label.case_id)).all()
    assert labels == ["remove", "allow"]


def test_model_labels_for_unknown_cases_or_raters_import_nothing(db, pom):
    session = make_session(pom, cases=1)
    services.add_model_rater(pom, session, name="ListingGuard", version="2.4")
    content = (
        b"reference,rater,label\nC-1,ListingGuard 2.4,remove\nC-9,ListingGuard 2.4,allow\n"
        b"C-1,Someone,allow\nC-1,ListingGuard 2.4,allow\n"
    )
    with pytest.raises(ValidationError) as refused:
        services.import_model_labels(pom, session, content)
    messages = [imports.describe(e) for e in refused.value.errors]
    assert "Line 3, reference: “C-9” is not a case of this session." in messages
    assert "Line 4, rater: “Someone” is not a model rater of this session." in messages
    assert "Line 5, reference: ListingGuard 2.4 already labels “C-1” on line 2." in messages
    assert db.session.scalar(sa.select(sa.func.count(Label.id))) == 0


def test_an_empty_file_says_so(db, pom):
    session = make_session(pom)
    with pytest.raises(ValidationError, match="empty"):
        services.import_cases(pom, session, b"")
    with pytest.raises(ValidationError, match="no rows"):
        services.import_cases(pom, session, b"reference,text\n")


def test_a_semicolon_separated_file_as_excel_writes_it_imports(db, create_user):
    """Excel in many locales separates by semicolons; tabs come from pasted sheets."""
    from calibration import imports

    semicolons = b"reference;text;golden\nA-1;first;remove\nA-2;second;allow\n"
    tabs = b"reference\ttext\nB-1\tfirst\n"
    rows = imports.read_cases_csv(semicolons, option_keys=["remove", "allow"], market_codes=[])
    assert [row.reference for row in rows] == ["A-1", "A-2"]
    assert imports.delimiter_of(tabs.decode()) == "\t"
    assert imports.delimiter_of("reference,text\n") == ","


def test_the_import_page_offers_sample_files_that_import_as_they_are(
    client, auth, db, create_user, create_site
):
    """Each sample file uses the session's own options and imports without a change."""
    from tests.calibration_factories import make_session

    pom = auth.login(create_user(Role.POM))
    session = make_session(pom)
    page = client.get(f"/calibration/sessions/{session.id}/import").get_data(as_text=True)
    assert "sample-cases.csv" in page
    sample = client.get(f"/calibration/sessions/{session.id}/import/sample-cases.csv")
    assert sample.status_code == 200 and sample.mimetype == "text/csv"
    from calibration import services

    assert services.import_cases(pom, session, sample.get_data()) == 3
    missing = client.get(f"/calibration/sessions/{session.id}/import/sample-nothing.csv")
    assert missing.status_code == 404
