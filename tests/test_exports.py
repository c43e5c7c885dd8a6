"""Large exports stream as they are written: every row, in order, formula cells
neutralised, without the file being built first."""

import csv
import io

from calibration import services
from calibration.queries import EXPORT_BATCH
from rollcal.accounts.models import Role
from rollcal.reports.downloads import CSV_BATCH
from tests.calibration_factories import case_ids, run_session


def test_labels_csv_streams_every_label_of_a_session_larger_than_a_batch(
    client, auth, create_user, create_site, create_vendor
):
    vendor = create_vendor("Meridian CX")
    site = create_site(vendor, "Manila North")
    pom = create_user(Role.POM)
    maria = create_user(Role.QA_LEAD, vendor=vendor, name="Maria Santos")
    ana = create_user(Role.QA_LEAD, vendor=vendor, name="Ana Reyes")
    cases = EXPORT_BATCH // 2 + CSV_BATCH
    session = run_session(
        pom,
        [(maria, site), (ana, site)],
        cases=cases,
        golden=lambda i: "remove",
        answer=lambda rater, case: ("remove", "allow")[(rater + case) % 2],
        until="open",
    )
    first = case_ids(session)[0]
    services.save_labels(
        maria,
        session,
        [services.LabelInput(option="allow", case_id=first, comment="=HYPERLINK(evil)")],
    )
    services.close_session(pom, session)
    services.reveal_session(pom, session)
    auth.login(pom)

    response = client.get(f"/calibration/sessions/{session.id}/labels.csv")

    assert response.status_code == 200 and response.is_streamed
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "reference",
        "rater",
        "vendor",
        "site",
        "label",
        "comment",
        "updated_at",
        "golden",
    ]
    body = rows[1:]
    assert len(body) == 2 * cases > EXPORT_BATCH
    assert [row[0] for row in body[::2]] == [f"C-{i + 1}" for i in range(cases)]
    assert {(row[0], row[1]) for row in body} == {
        (f"C-{i + 1}", name) for i in range(cases) for name in ("Maria Santos", "Ana Reyes")
    }
    assert all(row[2:4] == ["Meridian CX", "Manila North"] and row[7] == "remove" for row in body)
    maria_first = next(row for row in body if row[:2] == ["C-1", "Maria Santos"])
    assert maria_first[4:6] == ["allow", "'=HYPERLINK(evil)"]
