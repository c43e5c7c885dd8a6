"""Charts drawn on the server: the same figures always give the same SVG."""

from rollcal.reports.charts import AlphaBar, alpha_chart


def bars(alpha: float = 0.71) -> list[AlphaBar]:
    return [AlphaBar("Meridian CX", alpha, 0.62, 0.80), AlphaBar("Harbor Review", 0.55)]


def test_the_same_chart_renders_to_the_same_svg():
    first = alpha_chart(bars(), title="Alpha by vendor")
    second = alpha_chart(bars(), title="Alpha by vendor")
    assert first == second


def test_different_charts_get_different_ids():
    first = alpha_chart(bars(0.71), title="Alpha by vendor")
    second = alpha_chart(bars(0.72), title="Alpha by vendor")
    first_id = first.split('id="chart-')[1].split('"')[0]
    second_id = second.split('id="chart-')[1].split('"')[0]
    assert first_id != second_id


def test_an_alpha_that_could_not_be_computed_is_a_dash_with_its_reason_not_a_zero_bar():
    svg = alpha_chart(
        [AlphaBar("Cebu", 0.81, 0.7, 0.9), AlphaBar.of({"alpha": None, "n_raters": 1}, "Bogotá")],
        title="Alpha by site",
    )
    assert "Bogotá: — one rater, nothing to agree with" in svg
    assert svg.count('class="rect reactive tooltip-trigger"') == 1  # Cebu only


def test_the_threshold_is_a_dashed_line_distinct_from_the_grid():
    svg = alpha_chart(bars(), title="Alpha by vendor", threshold=0.667)
    assert svg.count('class="major guide line"') == 1
    assert 'class="guide line"' in svg
