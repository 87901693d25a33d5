"""The show site as a listener gets it: static pages checked as files, then driven in headless
Chromium over the preview server (player, chapters, a transcript that follows the audio)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import CHAPTER_ONE, SHOW, write_project

from toolkit.build import Project, build
from toolkit.publish.server import make_server

TITLE = 'Tales <of> "Home" & Away'
FIXTURE = {
    "script/show.yaml": SHOW.replace("title: Test Show", "title: 'Tales <of> \"Home\" & Away'"),
    "script/01-one.yaml": CHAPTER_ONE.replace("title: One", "title: 'One </script> & <b>'"),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture show built once: its build/ folder."""
    root = write_project(tmp_path_factory.mktemp("site") / "show", FIXTURE)
    build(Project(root), lambda m: None, lambda m: None)
    return root / "build"


class Page(HTMLParser):
    """Text, links and inline data of a page, as a browser would parse it."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.text, self.urls, self.data, self._in = [], [], None, None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.urls += [found[k] for k in ("href", "src") if found.get(k)]
        self._in = found.get("id") if tag == "script" else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "episode-data":
            self.data = json.loads(data)
        else:
            self.text.append(data)


def test_index_lists_every_episode_with_escaped_text(site: Path) -> None:
    page = Page((site / "index.html").read_text())
    text = " ".join(page.text)
    assert TITLE in text and "One </script> & <b>" in text and "Two" in text
    assert "episodes/01-one.html" in page.urls and "episodes/02-two.html" in page.urls
    assert "cover.jpg" in page.urls and "site.css" in page.urls and "site.js" in page.urls
    assert "podcast://127.0.0.1:8000/feed.xml" in page.urls
    assert "pcast://127.0.0.1:8000/feed.xml" in page.urls
    assert "<b>" not in (site / "index.html").read_text()  # writer text never becomes markup


def test_episode_page_carries_the_builds_own_timings(site: Path) -> None:
    page = Page((site / "episodes/01-one.html").read_text())
    vtt = (site / "episodes/01-one.vtt").read_text()
    lines = page.data["lines"]
    assert [line["speaker"] for line in lines] == ["Mom", "James", "Mom", "Ava", "Mom"]
    assert lines[1]["text"] == "This isn't the life I signed up for."
    assert all("words" not in line for line in lines)  # no word timings in this build
    for line in lines:  # same times as the published WebVTT
        assert f"{_vtt_clock(line['start'])} --> {_vtt_clock(line['end'])}" in vtt
    chapters = json.loads((site / "episodes/01-one.chapters.json").read_text())["chapters"]
    assert [c["title"] for c in page.data["chapters"]] == [c["title"] for c in chapters]
    assert [c["start"] for c in page.data["chapters"]] == [c["startTime"] for c in chapters]
    assert "01-one.mp3" in page.urls and "02-two.html" in page.urls and "../index.html" in page.urls


def _vtt_clock(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def test_nothing_points_elsewhere(site: Path) -> None:
    for path in [site / "index.html", *sorted((site / "episodes").glob("*.html"))]:
        for url in Page(path.read_text()).urls:
            assert "://" not in url or url.startswith(("podcast://", "pcast://")), (path, url)
    for asset in ("site.css", "site.js"):
        body = (site / asset).read_text()
        assert "http://" not in body and "https://" not in body and "url(" not in body


def test_rebuild_is_byte_identical_and_writes_nothing(site: Path, tmp_path: Path) -> None:
    root = tmp_path / "again"
    shutil.copytree(site.parent, root, symlinks=True)
    pages = [*root.glob("build/*.*"), *root.glob("build/episodes/*.html")]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in pages}
    build(Project(root), lambda m: None, lambda m: None)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in pages} == before


def test_word_timings_reach_the_page_when_present(site: Path) -> None:
    from dataclasses import dataclass, replace

    from toolkit.master.episode import Episode
    from toolkit.mix.timeline import Cue
    from toolkit.publish.site import render_episode
    from toolkit.script.loader import load_show

    @dataclass(frozen=True)
    class WordCue(Cue):
        words: tuple = ()

    show = load_show(site.parent)
    cue = WordCue(
        1.0,
        2.0,
        "speech",
        "MOM",
        "kitchen",
        "Hello there",
        ((1.0, 1.4, "Hello"), (1.5, 2.0, "there")),
    )
    episode = Episode(show.chapters[0], site / "episodes/01-one.mp3", 1, 2.0, -16, -1, cues=(cue,))
    data = Page(render_episode(show, replace(episode), None, None).decode()).data
    assert data["lines"][0]["words"] == [[1.0, 1.4, "Hello"], [1.5, 2.0, "there"]]


# In a real browser.


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through chromedriver; under CI a missing browser fails."""
    webdriver = pytest.importorskip("selenium.webdriver")
    chrome = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chrome and driver_path):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromedriver are needed (Debian chromium, chromium-driver)")
        pytest.skip("chromium or chromedriver not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    profile = tempfile.mkdtemp(prefix="chromium-")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--autoplay-policy=no-user-gesture-required",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    from selenium.webdriver.chrome.service import Service

    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    server = make_server(site, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def wait_for(driver, script: str, *args: object, timeout: float = 15):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, 0.05).until(lambda d: d.execute_script(script, *args))


def requested_urls(driver) -> list[str]:
    """Every URL the browser asked for since the last call (the DevTools network log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if not url.startswith(("chrome:", "data:", "blob:", "about:")):  # browser-internal
                urls.append(url)
    return urls


def current_line(driver) -> str | None:
    return driver.execute_script(
        "const n = document.querySelector('#transcript > li.current');"
        "return n && n.getAttribute('aria-current') === 'true' ? n.id : null"
    )


def test_index_in_the_browser(browser, served: str, site: Path) -> None:
    from selenium.webdriver.common.by import By

    requested_urls(browser)
    browser.get(served)
    titles = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "ol.episodes h3 a")]
    assert titles == ["One </script> & <b>", "Two"]
    assert browser.find_element(By.ID, "feed-url").get_attribute("value") == served + "feed.xml"
    links = [
        a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "[data-scheme]")
    ]
    assert links == [f"podcast://{served[7:]}feed.xml", f"pcast://{served[7:]}feed.xml"]
    play = browser.find_elements(By.CSS_SELECTOR, "button.play")
    assert len(play) == 2
    play[1].click()
    wait_for(
        browser, "const a = document.getElementById('index-player'); return a.currentTime > 0.2"
    )
    assert (
        browser.find_element(By.ID, "index-player")
        .get_attribute("src")
        .endswith("episodes/02-two.mp3")
    )
    assert play[1].get_attribute("aria-pressed") == "true"
    assert browser.find_element(By.ID, "now-title").text == "Two"
    assert all(url.startswith(served) for url in requested_urls(browser))


def test_episode_page_follows_the_audio(browser, served: str, site: Path) -> None:
    from selenium.webdriver.common.by import By

    data = Page((site / "episodes/01-one.html").read_text()).data
    requested_urls(browser)
    browser.get(served + "episodes/01-one.html")
    wait_for(browser, "return document.getElementById('audio').readyState >= 1")
    assert browser.find_element(By.ID, "controls").is_displayed()
    for index, line in enumerate(data["lines"]):
        middle = (line["start"] + line["end"]) / 2
        browser.execute_script(
            "document.getElementById('audio').currentTime = arguments[0]", middle
        )
        wait_for(
            browser,
            "return document.querySelector('#transcript > li.current')?.id === arguments[0]",
            f"line-{index + 1}",
        )
        assert current_line(browser) == f"line-{index + 1}"
        chapter = max(i for i, c in enumerate(data["chapters"]) if c["start"] <= middle)
        marked = browser.find_elements(By.CSS_SELECTOR, "#chapters > li[aria-current='true']")
        assert [
            browser.find_elements(By.CSS_SELECTOR, "#chapters > li").index(m) for m in marked
        ] == [chapter]

    # Clicking a line seeks there (and plays); clicking a chapter seeks to it.
    browser.find_element(By.CSS_SELECTOR, "#line-4 .text").click()
    start = data["lines"][3]["start"]
    wait_for(
        browser,
        "const a = document.getElementById('audio'); return !a.paused && a.currentTime >= arguments[0]",
        start,
    )
    assert browser.execute_script("return document.getElementById('audio').currentTime") < start + 3
    browser.find_element(By.ID, "play").click()  # pause
    assert browser.execute_script("return document.getElementById('audio').paused")
    browser.find_element(By.CSS_SELECTOR, "#chapters > li:nth-child(2) button").click()
    wait_for(
        browser,
        "return document.getElementById('audio').currentTime >= arguments[0]",
        data["chapters"][1]["start"],
    )
    browser.find_element(By.ID, "play").click()

    # ±15 s and the speed menu.
    browser.execute_script(
        "const a = document.getElementById('audio'); a.pause(); a.currentTime = 0"
    )
    browser.find_element(By.ID, "forward").click()
    assert (
        abs(browser.execute_script("return document.getElementById('audio').currentTime") - 15)
        < 0.5
    )
    browser.find_element(By.ID, "back").click()
    assert browser.execute_script("return document.getElementById('audio').currentTime") < 0.5
    from selenium.webdriver.support.select import Select

    Select(browser.find_element(By.ID, "speed")).select_by_value("1.5")
    assert browser.execute_script("return document.getElementById('audio').playbackRate") == 1.5
    assert all(url.startswith(served) for url in requested_urls(browser))


def test_deep_link_starts_at_that_second(browser, served: str, site: Path) -> None:
    data = Page((site / "episodes/01-one.html").read_text()).data
    line = data["lines"][2]
    second = int(line["start"]) + 1 if int(line["start"]) + 1 < line["end"] else line["start"]
    browser.get(f"{served}episodes/01-one.html#t={second}")
    wait_for(browser, "return document.getElementById('audio').readyState >= 1")
    wait_for(
        browser,
        "return Math.abs(document.getElementById('audio').currentTime - arguments[0]) < 0.5",
        second,
    )
    assert current_line(browser) == "line-3"
    last = data["lines"][4]
    browser.get(f"{served}episodes/01-one.html#t=0:{(last['start'] + last['end']) / 2:05.2f}")
    wait_for(browser, "return document.querySelector('#transcript > li.current')?.id === 'line-5'")


def test_search_filters_lines(browser, served: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(served + "episodes/01-one.html")
    search = browser.find_element(By.ID, "search")
    search.send_keys("giving")
    shown = [
        e.get_attribute("id")
        for e in browser.find_elements(By.CSS_SELECTOR, "#transcript > li")
        if e.is_displayed()
    ]
    assert shown == ["line-3"]
    assert browser.find_element(By.ID, "found").text == "1 of 5 lines"
    search.clear()
    search.send_keys("mom")  # speakers count
    shown = [
        e.get_attribute("id")
        for e in browser.find_elements(By.CSS_SELECTOR, "#transcript > li")
        if e.is_displayed()
    ]
    assert shown == ["line-1", "line-3", "line-5"]
    search.send_keys(Keys.ESCAPE)
    assert (
        len(
            [
                e
                for e in browser.find_elements(By.CSS_SELECTOR, "#transcript > li")
                if e.is_displayed()
            ]
        )
        == 5
    )


def test_site_works_from_file_urls(browser, site: Path) -> None:
    from selenium.webdriver.common.by import By

    requested_urls(browser)
    browser.get((site / "episodes/02-two.html").as_uri() + "#t=1")
    wait_for(browser, "return document.querySelectorAll('#transcript > li').length === 2")
    assert browser.find_element(By.ID, "controls").is_displayed()
    assert browser.execute_script("return getComputedStyle(document.body).fontFamily").startswith(
        "system-ui"
    )
    assert all(url.startswith("file://") for url in requested_urls(browser))


def test_feed_reads_as_a_page_in_the_browser(browser, served: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(served + "feed.xml")
    wait_for(browser, "return document.querySelectorAll('ol.episodes li').length === 2")
    assert browser.find_element(By.TAG_NAME, "h1").text == TITLE
    links = [
        a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "ol.episodes h3 a")
    ]
    assert links == [served + "episodes/01-one.html", served + "episodes/02-two.html"]
