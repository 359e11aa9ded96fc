"""A throw-away sixth model unit in a temp folder gets a page of its own (issue 11 §2):
listed in the navigation under its task, titled with its display name, its form built from
its schema, quoted from its own rates and charted by its own lines. Only the unit module,
its schema and its page file (a copy of another model's) exist for it.

Its sandbox run (a sandbox started with the unit's model file runs a generation of it):
``tests/core/test_sandbox_model_files.py``."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from studio import models
from tests.app.conftest import APP, texts
from tests.sixth_unit import PAGE, write_sixth_unit


@pytest.fixture
def sixth(tmp_path):
    unit = models.load_unit_file(write_sixth_unit(tmp_path / "acme"))
    yield unit
    models.REGISTRY.unregister(unit.id)


def test_a_sixth_unit_gets_a_quoted_charted_page(data_dir, sixth):
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    at.switch_page(sixth.page_file)
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Acme Deflicker"
    # Its form comes from its schema: a 2-option enum and a 0–1 number.
    assert at.segmented_control(key=f"{PAGE}:quality").value == "fast"
    assert at.slider(key=f"{PAGE}:strength").value == 0.5
    # The sample clip (14 s) × its own "fast" rate, $0.01 per output second = $0.14.
    assert "$0.1400" in texts(at)
    [chart] = at.get("plotly_chart")
    assert '"fast (proxy)"' in chart.proto.spec and '"best (proxy)"' in chart.proto.spec
    at.segmented_control(key=f"{PAGE}:quality").set_value("best").run()
    assert "$0.4200" in texts(at)  # 14 s × $0.03
