"""``rollcal agreement FILE.csv``: the readable report, --json, and bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from calibration.agreement_cli import agreement_command

DATA = Path(__file__).parent / "data"
KRIPPENDORFF_2011_CSV = DATA / "krippendorff_2011.csv"
PUBLISHED_2011 = {"nominal": "0.743", "ordinal": "0.815", "interval": "0.849", "ratio": "0.797"}


def run(*arguments: object):
    return CliRunner().invoke(agreement_command, [str(a) for a in arguments])


def write(tmp_path: Path, content: str | bytes, name: str = "labels.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(("level", "published"), PUBLISHED_2011.items())
def test_agreement_prints_the_published_2011_alpha(level, published):
    result = run(KRIPPENDORFF_2011_CSV, "--level", level, "--seed", 1)

    assert result.exit_code == 0, result.stderr
    assert re.search(rf"Krippendorff's alpha\s+{re.escape(published)}\s", result.stdout)
    assert result.stderr == ""


def test_agreement_readable_report_has_every_section_in_order():
    result = run(KRIPPENDORFF_2011_CSV, "--seed", 1)

    titles = ["Krippendorff's alpha", "Raters", "Labels", "Most contested cases", "Flags", "Notes"]
    positions = [result.stdout.index(title) for title in titles]
    assert positions == sorted(positions)
    assert "No interval is given for alpha: only 11 cases" in result.stdout
    assert "12 cases (11 labelled by two or more raters), 4 raters, 5 labels" in result.stdout


@pytest.mark.parametrize(("level", "published"), PUBLISHED_2011.items())
def test_agreement_json_gives_the_published_values_and_documented_keys(level, published):
    result = run(KRIPPENDORFF_2011_CSV, "--level", level, "--json", "--seed", 1)

    report = json.loads(result.stdout)
    assert f"{report['alpha']:.3f}" == published
    assert report["level"] == level
    assert report["categories"] == ["1", "2", "3", "4", "5"]
    assert {
        "n_items",
        "n_raters",
        "n_labels",
        "level",
        "categories",
        "alpha",
        "alpha_ci",
        "percent_agreement",
        "fleiss_kappa",
        "gwet_ac1",
        "mean_cohen_kappa",
        "cohen_kappa",
        "raters",
        "labels",
        "confusion",
        "groups",
        "items",
        "flags",
        "notes",
    } <= report.keys()


def test_agreement_reads_bom_golden_vendor_site_and_ignores_extra_columns(tmp_path):
    csv = (
        "\ufeffitem,rater,label,golden,vendor,site,comment\n"
        "1,ana,spam,spam,Acme,Manila,easy\n"
        "1,ben,spam,spam,Acme,Manila,\n"
        "1,cy,ok,spam,Bolt,Lisbon,hmm\n"
        "2,ana,ok,ok,Acme,Manila,\n"
        "2,ben,ok,,Acme,Manila,\n"
        "2,cy,ok,ok,Bolt,Lisbon,\n"
    )
    result = run(write(tmp_path, csv), "--json", "--bootstrap", 0)

    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["categories"] == ["spam", "ok"]
    assert [g["group"] for g in report["groups"]] == ["Acme", "Bolt"]
    assert [s["site"] for s in report["sites"]] == ["Lisbon", "Manila"]
    assert report["confusion"] == [[2, 1], [0, 3]]
    assert report["alpha_ci"] is None


def test_agreement_readable_report_shows_vendors_sites_and_golden_figures(tmp_path):
    csv = "item,rater,label,golden,vendor,site\n" + "".join(
        f"{item},{rater},{label},{golden},{vendor},{site}\n"
        for item, golden, labels in [
            (1, "spam", "spam spam ok spam"),
            (2, "ok", "ok ok ok spam"),
            (3, "spam", "spam ok ok ok"),
            (4, "ok", "ok ok ok ok"),
            (5, "spam", "spam spam spam spam"),
        ]
        for (rater, vendor, site), label in zip(
            [
                ("ana", "Acme", "Manila"),
                ("ben", "Acme", "Manila"),
                ("cy", "Bolt", "Lisbon"),
                ("dee", "Bolt", "Cebu"),
            ],
            labels.split(),
            strict=True,
        )
    )
    result = run(write(tmp_path, csv), "--seed", 1)

    assert result.exit_code == 0, result.stderr
    for title in ("Vendors", "Sites", "precision", "accuracy", "majority deviation"):
        assert title in result.stdout
    # Five cases are too few to judge anyone: a low note says what is missing.
    assert re.search(r"LOW\s+site Manila \(not_enough_evidence\)", result.stdout)
    assert "HIGH" not in result.stdout
    assert "insufficient" in result.stdout


def test_agreement_sorts_numeric_labels_and_honours_an_explicit_order(tmp_path):
    path = write(tmp_path, "item,rater,label\n1,a,10\n1,b,9\n2,a,2\n2,b,10\n")

    numeric = json.loads(run(path, "--json", "--bootstrap", 0).stdout)
    ordered = json.loads(run(path, "--json", "--bootstrap", 0, "--labels", "10,9,2").stdout)

    assert numeric["categories"] == ["2", "9", "10"]
    assert ordered["categories"] == ["10", "9", "2"]


def test_agreement_with_the_same_seed_repeats_its_interval():
    first = json.loads(run(KRIPPENDORFF_2011_CSV, "--json", "--seed", 3).stdout)
    again = json.loads(run(KRIPPENDORFF_2011_CSV, "--json", "--seed", 3).stdout)

    assert first["alpha_ci"] == again["alpha_ci"]
    assert first["bootstrap"] == 1000


def test_agreement_accepts_ordinal_words_given_in_order(tmp_path):
    csv = "item,rater,label\n1,a,low\n1,b,low\n2,a,high\n2,b,mid\n3,a,mid\n3,b,mid\n"
    result = run(write(tmp_path, csv), "--level", "ordinal", "--labels", "low,mid,high", "--json")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["categories"] == ["low", "mid", "high"]


BAD_FILES = [
    pytest.param("", [], "line 1: the file is empty", id="empty file"),
    pytest.param("item,rater,label\n", [], "line 2: no ratings below the header", id="no rows"),
    pytest.param("item,rater\n1,a\n", [], "line 1: missing column 'label'", id="missing column"),
    pytest.param(
        "item,rater,label,label\n1,a,x,y\n",
        [],
        "line 1, column 4 (label): the column appears twice",
        id="repeated column",
    ),
    pytest.param(
        "item,rater,label\n1,a,x\n1,b,\n", [], "line 3, column 3 (label): empty", id="empty label"
    ),
    pytest.param(
        "item,rater,label\n1,a,x\n1,b\n",
        [],
        "line 3, column 3 (label): missing; the row has 2 values",
        id="short row",
    ),
    pytest.param(
        "item,rater,label\n1,a,x\n1,b,x,y\n",
        [],
        "line 3, column 4: the row has 4 values but the header names 3 columns",
        id="long row",
    ),
    pytest.param(
        "item,rater,label,golden\n1,a,x,x\n1,b,x,y\n",
        [],
        "line 3, column 4 (golden): item '1' has golden 'y' here but 'x' on line 2",
        id="conflicting golden",
    ),
    pytest.param(
        "item,rater,label,vendor\n1,a,x,Acme\n2,a,x,Bolt\n",
        [],
        "line 3, column 4 (vendor): rater 'a' has vendor 'Bolt' here but 'Acme' on line 2",
        id="conflicting vendor",
    ),
    pytest.param(
        "item,rater,label\n1,a,x\n1,b,y\n1,a,y\n",
        [],
        "line 4, column 2 (rater): rater 'a' already labelled item '1' on line 2",
        id="rated twice",
    ),
    pytest.param(
        "item,rater,label\n1,a,yes\n1,b,maybe\n",
        ["--labels", "yes,no"],
        "line 3, column 3 (label): 'maybe' is not one of --labels (yes, no)",
        id="unknown label",
    ),
    pytest.param(
        "item,rater,label,golden\n1,a,yes,perhaps\n",
        ["--labels", "yes,no"],
        "line 2, column 4 (golden): 'perhaps' is not one of --labels (yes, no)",
        id="unknown golden",
    ),
    pytest.param(
        "item,rater,label\n1,a,1\n1,b,low\n",
        ["--level", "ordinal"],
        "line 3, column 3 (label): 'low' is not a number, and --level ordinal needs numeric "
        "labels or --labels in order",
        id="ordinal words without order",
    ),
    pytest.param(
        "item,rater,label\n1,a,low\n",
        ["--level", "interval"],
        "line 2, column 3 (label): 'low' is not a number, and --level interval needs numeric "
        "labels",
        id="interval words",
    ),
    pytest.param(
        "item,rater,label\n1,a,1\n1,b,1.0\n",
        ["--level", "ordinal"],
        "line 3, column 3 (label): '1.0' is the same number as '1'",
        id="one number written two ways",
    ),
    pytest.param(
        b"item,rater,label\n1,a,x\n1,b,\xff\n",
        [],
        "line 3, column 3 (label): not valid UTF-8",
        id="not utf-8",
    ),
    pytest.param(
        'item,rater,label\n1,a,x\n1,b,"open\n',
        [],
        "line 3: unexpected end of data; is a quote left open?",
        id="quote",
    ),
    pytest.param(
        "item,rater,label\n1,a,x\n", ["--labels", "x,,y"], "--labels: empty label", id="labels"
    ),
]


@pytest.mark.parametrize(("content", "options", "message"), BAD_FILES)
def test_bad_input_exits_2_with_one_line_naming_the_place(tmp_path, content, options, message):
    result = run(write(tmp_path, content), *options)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: labels.csv: ")
    assert message in result.stderr


def test_missing_file_exits_2_with_one_line(tmp_path):
    result = run(tmp_path / "absent.csv")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "cannot read the file" in result.stderr


def test_rollcal_agreement_does_not_import_the_web_application(tmp_path):
    script = (
        "import sys\n"
        "from calibration.console import main\n"
        f"sys.argv = ['rollcal', 'agreement', {str(KRIPPENDORFF_2011_CSV)!r}, '--json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        "heavy = sorted({'flask', 'sqlalchemy', 'weasyprint', 'rollcal'} & set(sys.modules))\n"
        "print('imported:', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path
    )

    assert json.loads(result.stdout)["alpha"] == pytest.approx(0.743, abs=5e-4)
    assert "imported: []" in result.stderr


def test_rollcal_console_passes_every_other_command_to_the_flask_group():
    script = (
        "import sys\n"
        "from calibration.console import main\n"
        "sys.argv = ['rollcal', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)

    assert "agreement" in result.stdout and "report" in result.stdout


@pytest.mark.parametrize("seed", ["-1", "1.5", "x"])
def test_agreement_refuses_a_seed_that_is_not_a_whole_number_zero_or_more(seed):
    result = run(KRIPPENDORFF_2011_CSV, "--seed", seed)

    assert result.exit_code == 2
    assert "Invalid value for '--seed'" in result.stderr
    assert "Traceback" not in result.output


def test_agreement_refuses_negative_labels_at_the_ratio_level(tmp_path):
    csv = "item,rater,label\n1,a,-1\n1,b,2\n2,a,3\n2,b,-1\n"
    result = run(write(tmp_path, csv), "--level", "ratio")

    assert result.exit_code == 2
    assert "negative" in result.stderr and "--level interval" in result.stderr
    assert result.stdout == ""
