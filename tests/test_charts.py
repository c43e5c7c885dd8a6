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
