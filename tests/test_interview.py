"""The interview page (GET / of `irmer serve`; evaluator/service/interview.py and its templates).

- The form: each kind of fact read into the incident (a table), the buttons (not known, answer it
  after all, clear, answer this one next), and the page without a script (a plain form post).
- It asks only what decides: the next question is the first fact of the result's `missing` in the
  vocabulary's order, and the other questions are the rest of `missing`.
- Decided: the codes in the regulator's words, the authority and how to notify it, both deadlines as
  dates, advice, and a printable summary.
- In a real headless browser (Debian's chromium, driven by selenium with chromium-driver): a case
  filled through to its verdict, question by question, with a screenshot (docs/images/interview.png
  is written with UPDATE_GOLDEN=1), and the printed page holds only the summary.
"""

from __future__ import annotations

import os
import shutil
import struct
import warnings
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import ROOT

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from evaluator import load_vocabulary
from evaluator.service.app import Settings, create_app
from evaluator.service.decide import Decider
from evaluator.service.decision_log import read_log
from evaluator.service.interview import Form, incident_of, interview

from browser import CHROMIUM, page_colours
from served import Served

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT = ROOT / "docs" / "images" / "interview.png"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def decider():
    return Decider()


def view_of(decider, body: bytes):
    return interview(Form.parse(body), decider, request_id="test", path="/interview")[0]


def order_of(names):
    facts = list(load_vocabulary().facts)
    return sorted(names, key=facts.index)


# ------------------------------------------------------------------ the form

@pytest.mark.parametrize("body, incident", [
    (b"jurisdiction=England", {"jurisdiction": "England"}),
    (b"jurisdiction=", {}),
    (b"modality=diagnostic&modality=interventional", {"modality": ["diagnostic", "interventional"]}),
    (b"total_dose=8&total_dose__unit=uSv", {"total_dose": "8 uSv"}),
    (b"total_dose=8", {"total_dose": "8 mSv"}),                     # the kind's usual unit
    (b"total_dose=8&total_dose__unit=Gy", {"total_dose": "8 mSv"}),  # not a unit of its kind: the usual one
    (b"age=45", {"age": "45 years"}),                               # the fact's own unit
    (b"foetal_dose=12&foetal_dose__unit=mGy", {"foetal_dose": "12 mGy"}),
    (b"error_involved=no&theme=yes", {"error_involved": False, "theme": True}),
    (b"additional_images=3", {"additional_images": "3"}),
    (b"discovered_on=2024-09-02", {"discovered_on": "2024-09-02"}),
    (b"_id=INC%2042&exposure=accidental", {"id": "INC 42", "exposure": "accidental"}),
    (b"total_dose=+8+&total_dose__unit=mSv", {"total_dose": "8 mSv"}),
])
def test_the_form_as_an_incident(body, incident):
    assert incident_of(Form.parse(body), load_vocabulary().facts) == incident


@pytest.mark.parametrize("body, unknown, values, ask", [
    (b"jurisdiction=England&_skip=age", ["age"], {"jurisdiction": ["England"]}, None),
    (b"_unknown=age&_unknown=total_dose&_unskip=age", ["total_dose"], {}, "age"),
    (b"total_dose=8&total_dose__unit=mSv&_clear=total_dose", [], {}, None),
    (b"_ask=total_dose", [], {}, "total_dose"),
    (b"age=4&_unknown=modality&_skip=age", ["modality", "age"], {}, None),  # what is not known has no answer
])
def test_the_buttons(body, unknown, values, ask):
    form = Form.parse(body)
    assert (form.unknown, form.values, form.ask) == (unknown, values, ask)


@pytest.mark.parametrize("body", [
    b"",
    b"jurisdiction=England",
    b"jurisdiction=England&exposure=unintended",
    b"jurisdiction=England&exposure=unintended&modality=radiotherapy_imaging",
    b"jurisdiction=Wales&exposure=unintended&modality=nuclear_medicine_therapy&nm_therapy=sirt",
    b"exposure=accidental&total_dose=0.5&total_dose__unit=mSv",
])
def test_it_asks_only_what_decides(decider, body):
    """The questions are the result's `missing`: the first, in the vocabulary's order, asked next."""
    view = view_of(decider, body)
    missing = order_of(view.result.missing)
    assert missing, "a case still undecided"
    assert [view.next.name] + [f.name for f in view.also] == missing
    assert not {f.name for f in view.answered} & set(missing)


def test_not_known_and_answer_this_one_next(decider):
    view = view_of(decider, b"jurisdiction=England&exposure=accidental&_skip=age")
    assert view.next.name == "total_dose" and [f.name for f in view.unknown] == ["age"]
    assert view_of(decider, b"jurisdiction=England&exposure=accidental&_ask=total_dose").next.name == "total_dose"
    view = view_of(decider, b"jurisdiction=England&exposure=accidental&_unknown=age&_unskip=age")
    assert view.next.name == "age" and view.unknown == []


def test_decided_without_what_was_not_known(decider):
    """8 mSv is over the adult and the child threshold alike: the age was not needed."""
    view = view_of(decider, b"_id=CT-0193&jurisdiction=England&exposure=accidental&_unknown=age"
                            b"&total_dose=8&total_dose__unit=mSv&discovered_on=2024-10-07")
    assert (view.verdict.state, [c.code for c in view.verdict.codes], view.next) == ("notifiable", ["1"], None)
    assert view.notify_by == "Monday 21 October 2024 (2024-10-21)"
    assert view.report_by == "Monday 30 December 2024 (2024-12-30)"


def test_the_codes_in_the_regulators_words(decider):
    view = view_of(decider, b"jurisdiction=England&exposure=unintended&modality=radiotherapy_imaging"
                            b"&imaging_cause=hardware_software_failure&theme=yes&individuals=3&equipment_fault=yes"
                            b"&intended_images=5&additional_images=3&discovered_on=2024-10-01")
    codes = {code.code: code for code in view.verdict.codes}
    assert list(codes) == ["4.2c", "M4.2c", "E4.2c"]
    assert codes["4.2c"].category == "Radiotherapy treatment verification images"
    assert codes["M4.2c"].category.startswith("Multiple patients exposed") and codes["M4.2c"].role == "statutory"
    assert codes["E4.2c"].says == ["Refers to incidents where equipment failures are the direct cause."]
    assert [a.name for a in view.result.advice] == []
    assert "device_report" in [r.name for r in view.result.routes]
    summary = view.summary
    for line in ["Verdict: NOTIFIABLE — codes 4.2c, M4.2c, E4.2c",
                 "Code E4.2c: Equipment fault exposure (plus relevant suffix code 1 to 9)",
                 '  "Refers to incidents where equipment failures are the direct cause."',
                 "Enforcing authority: Care Quality Commission (CQC)",
                 "Notify by: Tuesday 15 October 2024 (2024-10-15)",
                 "Report by: Tuesday 24 December 2024 (2024-12-24)",
                 "  Imaging cause: hardware software failure"]:
        assert line in summary.splitlines(), line
    assert any(line.startswith("  Medicines and Healthcare products Regulatory Agency (MHRA): ")
               for line in summary.splitlines())
    assert "Consider reporting the device-related incident" not in summary  # said once, as a route


def test_routes_and_defaults_taken_are_shown_and_summarised(decider):
    """Where else the incident goes (routes) and the judgement defaults that decide it (assumed), on the
    page and in the printable summary."""
    view = view_of(decider, b"jurisdiction=England&exposure=unintended&modality=diagnostic&age=40"
                            b"&intended_dose=1&intended_dose__unit=mSv&total_dose=12&total_dose__unit=mSv"
                            b"&equipment_fault=yes&discovered_on=2024-10-01")
    assert [route.name for route in view.result.routes] == ["device_report", "learning_imaging"]
    assert [item.fact for item in view.result.assumed] == ["error_involved"]
    summary = view.summary.splitlines()
    assert "Also report to:" in summary and "Taken by default:" in summary
    assert any(line.startswith("  Medicines and Healthcare products Regulatory Agency (MHRA): ") for line in summary)
    assert "  error_involved is taken as yes (not given); if it is no: not notifiable" in summary


@pytest.mark.parametrize("body, field, message", [
    (b"jurisdiction=England&total_dose=-3&total_dose__unit=mSv", "total_dose", "cannot be negative"),
    (b"jurisdiction=England&discovered_on=2024-02-30", "discovered_on", "2024-02-30"),
    (b"jurisdiction=England&additional_images=2.5", "additional_images", "whole number"),
])
def test_an_answer_that_cannot_be_read_is_shown_at_its_question(decider, body, field, message):
    view = view_of(decider, body)
    assert view.verdict.state == "error"
    shown = {f.name: f.error for f in view.answered + view.about}
    assert message in (shown[field] or "")


def test_the_page_without_a_script(tmp_path):
    """A plain form post gets the whole page back, its decision logged like any other."""
    log = tmp_path / "d.jsonl"
    with TestClient(create_app(Settings(log=log))) as client:
        first = client.get("/")
        posted = client.post("/", content=b"jurisdiction=Wales&exposure=accidental&total_dose=4&total_dose__unit=mSv",
                             headers=FORM)
        fragment = client.post("/interview", content=b"jurisdiction=Wales", headers=FORM)
        script = client.get("/static/interview.js")
    assert first.status_code == 200 and "<h2 id=\"next-h\">Next question</h2>" in first.text
    assert 'id="jurisdiction-label">Jurisdiction' in first.text
    assert '<form id="interview" method="post" action="/"' in first.text
    assert posted.status_code == 200 and "Healthcare Inspectorate Wales (HIW)" in posted.text
    assert "<!doctype html>" not in fragment.text and "Exposure" in fragment.text
    assert script.headers["content-type"].startswith("text/javascript") and "fetch(\"/interview\"" in script.text
    assert "http://" not in first.text.replace("http://www.w3.org", "") and "https://" not in first.text
    assert [e["path"] for e in read_log(log)] == ["/", "/", "/interview"]


@pytest.fixture(scope="module")
def page_client():
    with TestClient(create_app(Settings(log=None)), raise_server_exceptions=False) as client:
        yield client


def test_the_page_shows_routes_and_defaults_taken(page_client):
    body = (b"jurisdiction=England&exposure=unintended&modality=diagnostic&age=40&intended_dose=1"
            b"&intended_dose__unit=mSv&total_dose=12&total_dose__unit=mSv&equipment_fault=yes")
    page = page_client.post("/interview", content=body, headers=FORM).text
    assert "<h3>Also report to</h3>" in page and "<strong>Medicines and Healthcare products Regulatory Agency" in page
    assert "<h3>Taken by default</h3>" in page and "error_involved is taken as yes (not given)" in page


def test_doses_in_an_alternative_quantity(page_client, decider):
    """The pair of doses offers the alternative quantities; the verdict's notes are shown, and the page asks
    for an effective dose next (docs/interpretations.md, alternative_units)."""
    body = (b"jurisdiction=England&exposure=unintended&modality=interventional&age=63&intended_dose=50"
            b"&intended_dose__unit=Gy+cm2&total_dose=600&total_dose__unit=Gy+cm2")
    assert incident_of(Form.parse(body), load_vocabulary().facts)["total_dose"] == "600 Gy cm2"
    view = view_of(decider, body)
    assert (view.result.notifiable, view.next.name) == (None, "intended_dose")
    assert "Gy cm2" in view.next.units and "mGy CTDIvol" in view.next.units
    page = page_client.post("/interview", content=body, headers=FORM)
    assert page.status_code == 200 and "E &lt; 0.25 mSv (total &lt; 3 mSv): not notifiable" in page.text
    decided = view_of(decider, body.replace(b"total_dose=600", b"total_dose=60"))
    assert (decided.verdict.state, decided.next) == ("not-notifiable", None)


def test_a_form_with_too_many_fields(page_client):
    response = page_client.post("/interview", content=b"&".join(b"f%d=1" % i for i in range(2001)), headers=FORM)
    assert response.status_code == 400
    assert response.json()["detail"] == "the form has more than 2,000 fields"
    assert page_client.post("/interview", content=b"&".join(b"f%d=1" % i for i in range(2000)),
                            headers=FORM).status_code == 200


FIELD_NAMES = [*load_vocabulary().facts, *(f + "__unit" for f in load_vocabulary().facts), "_id", "_criteria",
               "_skip", "_unskip", "_clear", "_ask", "_unknown", "_go"]


@given(st.lists(st.tuples(st.sampled_from(FIELD_NAMES),
                          st.sampled_from(["", "yes", "no", "8", "-1", "1e999", "0.5", "England", "diagnostic",
                                           "mSv", "Gy", "2024-02-30", "2024-09-02", "x" * 300, "\u00e9\u2028"])),
                max_size=12))
def test_any_form_gets_a_page(page_client, pairs):
    from urllib.parse import urlencode
    response = page_client.post("/interview", content=urlencode(pairs).encode(), headers=FORM)
    assert response.status_code == 200, response.text[:500]
    assert 'class="verdict v-' in response.text


# ------------------------------------------------------------------ in a real browser

def _browser():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        if os.environ.get("IRMER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"IRMER_REQUIRE_BROWSER=1 but there is no {' and no '.join(missing)}")
        pytest.skip(f"no {' and no '.join(missing)} (Debian's chromium and chromium-driver; "
                    "set IRMER_REQUIRE_BROWSER=1 to make this a failure)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1400", "--disable-background-networking", "--disable-component-update",
                     "--no-first-run", "--lang=en-GB"]:
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


class Page:
    """The interview in the browser: act, then wait until the page shows the answer to that act."""

    def __init__(self, driver):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
        self.driver, self.By = driver, By
        # Polled every 20 ms, not selenium's default half second: each act is answered in a few
        # milliseconds, and the half seconds added up to most of a test's time.
        self.wait = WebDriverWait(driver, 60, poll_frequency=0.02)

    def settled(self, act) -> None:
        before = self.driver.execute_script("return document.documentElement.getAttribute('data-updated')")
        act()
        self.wait.until(lambda d: d.execute_script(
            "return document.documentElement.getAttribute('data-updated')") != before)

    def css(self, selector: str):
        return self.driver.find_element(self.By.CSS_SELECTOR, selector)

    def next_question(self) -> str | None:
        found = self.driver.find_elements(self.By.CSS_SELECTOR, "[data-next] [data-fact]")
        return found[0].get_attribute("data-fact") if found else None

    def questions(self) -> list[str]:
        later = [b.get_attribute("value") for b in self.driver.find_elements(self.By.CSS_SELECTOR, ".also button")]
        return ([self.next_question()] if self.next_question() else []) + later

    def choose(self, fact: str, value: str) -> None:
        self.settled(lambda: self.css(f'input[name="{fact}"][value="{value}"]').click())

    def type(self, fact: str, text: str) -> None:
        from selenium.webdriver.common.keys import Keys
        self.settled(lambda: self.css(f'input[name="{fact}"]').send_keys(text, Keys.ENTER))

    def retype(self, fact: str, text: str) -> None:
        from selenium.webdriver.common.keys import Keys
        self.settled(lambda: self.css(f'input[name="{fact}"]').send_keys(Keys.CONTROL, "a", Keys.NULL, text, Keys.ENTER))

    def set_date(self, fact: str, day: str) -> None:
        # A date control is typed in the browser's locale; set its value as a person's picking would.
        self.settled(lambda: self.driver.execute_script(
            "const el = document.querySelector(arguments[0]); el.value = arguments[1];"
            "el.dispatchEvent(new Event('change', {bubbles: true}));", f'input[name="{fact}"]', day))

    def verdict(self) -> str:
        return self.css("#verdict-h").text


def _missing(url: str, incident: dict) -> list[str]:
    import httpx
    return order_of(httpx.post(url + "v1/evaluate", json=incident, timeout=60).json()["missing"])


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


def test_a_case_filled_through_to_its_verdict(tmp_path):
    log = tmp_path / "decisions.jsonl"
    driver = _browser()
    try:
        with Served(tmp_path, log) as server:
            driver.get(server.url)
            page = Page(driver)
            page.wait.until(lambda d: d.execute_script(
                "return document.documentElement.getAttribute('data-interview')") == "ready")
            assert page.css("h1").text == "Is this exposure notifiable?"
            incident: dict = {}
            asked = []
            steps = [("jurisdiction", "England", page.choose), ("exposure", "unintended", page.choose),
                     ("modality", "diagnostic", page.choose), ("age", "45", page.type),
                     ("intended_dose", "2", page.type), ("total_dose", "22", page.type)]
            for fact, value, act in steps:
                # Only what would decide is asked, the first of it next.
                assert page.questions() == _missing(server.url, incident), f"before {fact}"
                asked.append(page.next_question())
                assert page.verdict().startswith("Not decided yet")
                act(fact, value)
                incident[fact] = {"intended_dose": "2 mSv", "total_dose": "22 mSv", "age": "45 years",
                                  "modality": ["diagnostic"]}.get(fact, value)
            assert asked == [fact for fact, _, _ in steps]
            assert page.verdict() == "Notifiable"
            assert page.questions() == []
            assert page.css(".codes").text == "2.2"
            assert "Intended dose between 0.3mSv and 2.5mSv" in page.css("aside.verdict").text
            assert "10 or more times than intended" in page.css("aside.verdict").text
            assert page.css(".authority").text == "Care Quality Commission (CQC)"
            assert "Give the date the incident was discovered" in page.css("aside.verdict").text

            page.settled(lambda: page.css('input[name="_id"]').send_keys("INC-042", "\t"))
            page.set_date("discovered_on", "2024-09-02")
            deadlines = page.css("dl.deadlines").text
            assert "Monday 16 September 2024 (2024-09-16)" in deadlines
            assert "Monday 25 November 2024 (2024-11-25)" in deadlines
            summary = page.css("#summary-text").text
            for line in ["IR(ME)R incident INC-042", "Verdict: NOTIFIABLE — code 2.2",
                         "Code 2.2: Intended dose between 0.3mSv and 2.5mSv", '"10 or more times than intended"',
                         "Notify by: Monday 16 September 2024 (2024-09-16)", "Total dose: 22 mSv"]:
                assert line in summary.splitlines() or line in summary, line

            # A screenshot of the decided case, for docs/service.md.
            height = min(1500, driver.execute_script("return document.documentElement.scrollHeight"))
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                   {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False})
            driver.execute_script("window.scrollTo(0, 0)")
            shot = tmp_path / "interview.png"
            driver.save_screenshot(str(shot))
            data = shot.read_bytes()
            width, tall = _png_size(data)
            assert width == 1280
            page_colours(data, width, tall)
            if os.environ.get("UPDATE_GOLDEN"):
                shutil.copyfile(shot, SCREENSHOT)

            # Printed, the page is the summary alone.
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
            shown = driver.execute_script(
                "return ['.layout', '.masthead', '#summary-text'].map("
                "s => getComputedStyle(document.querySelector(s)).display)")
            assert shown == ["none", "none", "block"]

            # Change an answer: the verdict follows.
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
            page.retype("total_dose", "3")
            assert page.verdict() == "Not notifiable"
    finally:
        driver.quit()
    decided = [e["result"] for e in read_log(log) if e["path"] == "/interview"]
    assert decided[-1]["notifiable"] is False and any(r["codes"] == ["2.2"] for r in decided)


def test_i_do_not_know_in_the_browser(tmp_path):
    driver = _browser()
    try:
        with Served(tmp_path, None) as server:
            driver.get(server.url)
            page = Page(driver)
            page.wait.until(lambda d: d.execute_script(
                "return document.documentElement.getAttribute('data-interview')") == "ready")
            page.choose("jurisdiction", "England")
            page.choose("exposure", "accidental")
            assert page.next_question() == "age"
            page.settled(lambda: page.css('[data-next] button[name="_skip"]').click())
            assert page.next_question() == "total_dose"
            assert [b.text for b in driver.find_elements(page.By.CSS_SELECTOR, ".unknown button")] == ["Age"]
            assert driver.switch_to.active_element.get_attribute("name") == "total_dose"  # focus follows
            page.type("total_dose", "-1")
            assert page.verdict() == "These answers cannot be read yet"
            error = page.css('[data-fact="total_dose"] .error')
            assert error.text == 'total_dose cannot be negative: "-1 mSv"'
            # The answer, its error and its clear button keep their columns.
            field, clear = page.css('input[name="total_dose"]'), page.css('button[name="_clear"][value="total_dose"]')
            assert clear.location["x"] > field.location["x"] + field.size["width"]
            page.retype("total_dose", "8")
            assert page.verdict() == "Notifiable"
            assert page.css(".codes").text == "1"  # the age did not matter: 8 mSv is over both thresholds
            copy = page.css("button[data-copy]")
            copy.click()
            page.wait.until(lambda d: copy.text != "Copy the summary")
            assert copy.text in ("Copied", "Selected: press Ctrl+C")
    finally:
        driver.quit()
