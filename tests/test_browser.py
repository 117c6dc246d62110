"""The widget notebooks in a real JupyterLab, driven by headless Chromium, offline.

nbmake proves that a notebook's kernel runs; these tests prove that what a learner sees
works: the notebook opens in JupyterLab, "Run All Cells" runs it, and the widgets answer
typing, ticking and dragging with the right numbers.

- JupyterLab runs on 127.0.0.1 with a fixed token and fresh config, data, settings,
  workspace and runtime directories; update checks, news and the extension manager are off.
- Chromium is Debian's (`chromium` + `chromium-driver`), driven by Selenium with an explicit
  driver path (nothing is downloaded), with background networking off and a host-resolver
  rule that resolves every other host to nothing. Every request the page made is read back
  from the browser's network log and must have gone to 127.0.0.1.
- A PNG of each widget's final state is saved in the test's tmp dir;
  ``make screenshots`` (``KOKORO_NB_SCREENSHOTS=docs/screenshots``) also copies them there,
  which is how the README's pictures are made.

Without the browser or driver the module is skipped with a message saying how to install
them; under ``CI=true`` that is a failure instead.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlparse

import pytest

from kokoro_nb.text import PRESETS, RussianPhonemeProcessor

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("KOKORO_NB_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("KOKORO_NB_CHROMEDRIVER", "/usr/bin/chromedriver"))
INSTALL_HINT = ("install them with `sudo apt-get install chromium chromium-driver` (Debian/Ubuntu) "
                "and `pip install -e '.[dev]'` (selenium), or point KOKORO_NB_CHROMIUM and "
                "KOKORO_NB_CHROMEDRIVER at a Chromium and its matching driver")
TOKEN = "kokoro-nb-browser-tests"
NOTEBOOKS = ("02_phoneme_rules.ipynb", "03_mel_spectrograms.ipynb")
# Upper bounds, not targets: each notebook's whole test takes 10-15 s on a 2-core CPU.
KERNEL_TIMEOUT = 60
RUN_TIMEOUT = 90


def _missing() -> list[str]:
    missing = [f"{path} (not found)" for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    return missing


def _require_browser() -> None:
    missing = _missing()
    if missing:
        message = f"browser tests need {', '.join(missing)}: {INSTALL_HINT}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    url: str
    root: Path
    log: Path


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 serving copies of the widget notebooks."""
    _require_browser()
    home = tmp_path_factory.mktemp("jupyterlab")
    root = home / "notebooks"
    root.mkdir()
    for name in NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / name, root / name)
    config, settings = home / "config", home / "settings"
    _write_json(config / "jupyter_server_config.json", {
        "ServerApp": {"ip": "127.0.0.1", "port_retries": 0, "open_browser": False,
                      "terminals_enabled": False,
                      "allow_root": True},  # CI containers run as root; the server is loopback-only
        "IdentityProvider": {"token": TOKEN},
        "LabApp": {
            "news_url": None,
            "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate",
            "extension_manager": "readonly",
            "expose_app_in_browser": True,
        },
    })
    # User settings: no news or update prompts, no extension manager, no autosave races.
    _write_json(settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings",
                {"fetchNews": "false", "checkForUpdates": False})
    _write_json(settings / "@jupyterlab" / "extensionmanager-extension" / "plugin.jupyterlab-settings",
                {"enabled": False})
    _write_json(settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings",
                {"autosave": False})
    env = os.environ | {
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
        "MPLCONFIGDIR": str(home / "matplotlib"),
        "KOKORO_NB_FAST": "1",
    }
    port = _free_port()
    log = home / "jupyterlab.log"
    with open(log, "wb") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
             f"--ServerApp.root_dir={root}"],
            cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield Lab(url=url, root=root, log=log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture
def browser(lab, tmp_path):
    """Headless Chromium kept on loopback; after the test, every request it made is checked."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--disable-extensions", "--disable-default-apps",
                     "--no-first-run", "--disable-domain-reliability",
                     "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                     f"--user-data-dir={tmp_path / 'chromium-profile'}",
                     "--window-size=1280,1400", "--lang=en-US"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_script_timeout(30)
    try:
        yield driver
        urls = _requested_urls(driver)
        # The log saw the page's own traffic (so an empty "outside" list means something).
        assert any(urlparse(url).hostname == "127.0.0.1" for url in urls), urls[:10]
        outside = [url for url in urls if not _is_local(url)]
        assert not outside, f"requests left 127.0.0.1: {outside[:10]}"
    finally:
        driver.quit()


def _requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(params["request"]["url"])
        elif message.get("method") == "Network.webSocketCreated":
            urls.append(params["url"])
    return urls


def _is_local(url: str) -> bool:
    """Network schemes must go to 127.0.0.1; the rest (data:, blob:, about:, chrome:// pages
    the browser renders from its own resources) never touch the network."""
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https", "ws", "wss", "ftp"):
        return parsed.hostname == "127.0.0.1"
    return parsed.scheme in ("data", "blob", "about", "chrome", "devtools")


# ----------------------------------------------------------------------------- helpers

def _wait(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as exc:  # the page may be re-rendering; try again
            last = exc
        if isinstance(last, AssertionError):
            raise last  # a definite failure, not a page that is still changing
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


NOTEBOOK_STATE = """
const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
if (!panel || !panel.content || !panel.sessionContext) { return null; }
const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
const cells = panel.content.widgets.filter(c => c.model.type === 'code');
const errors = [];
for (const cell of cells) {
  for (const output of cell.model.outputs.toJSON()) {
    if (output.output_type === 'error') { errors.push(output.ename + ': ' + output.evalue); }
  }
}
return {path: panel.context.path, kernel: kernel ? kernel.status : null,
        executed: cells.filter(c => c.model.executionCount !== null).length,
        cells: cells.length, errors: errors};
"""


def _open_and_run_all(driver, lab: Lab, name: str) -> None:
    """Open a notebook, wait for its kernel, then Run > Run All Cells as a learner would.
    A failure says what the notebook was doing and ends with the server's log."""
    from selenium.webdriver.common.by import By

    def state():
        return driver.execute_script(NOTEBOOK_STATE) or {}

    try:
        # `reset`: a fresh workspace, so no notebook of an earlier test is restored beside it.
        driver.get(f"{lab.url}/lab/tree/{name}?reset&token={TOKEN}")
        _wait(lambda: state().get("path") == name and state().get("kernel") == "idle",
              KERNEL_TIMEOUT, f"{name} to open with an idle kernel")
        driver.find_element(By.XPATH,
                            "//div[contains(@class,'lm-MenuBar-itemLabel') and text()='Run']").click()
        _wait(lambda: driver.find_element(
            By.XPATH, "//div[contains(@class,'lm-Menu-itemLabel') and text()='Run All Cells']"),
            10, "the Run menu").click()

        def finished():
            now = state()
            assert not now["errors"], f"{name} raised: {now['errors']}"
            return now["kernel"] == "idle" and now["executed"] == now["cells"]

        _wait(finished, RUN_TIMEOUT, f"all cells of {name} to run")
    except Exception as exc:
        driver.save_screenshot(str(lab.root.parent / f"failed_{name}.png"))
        raise AssertionError(f"{exc}\nnotebook state: {state()}\nserver log (end):\n"
                             f"{lab.log.read_text()[-2000:]}") from None


def _element(driver, css: str):
    from selenium.webdriver.common.by import By

    return _wait(lambda: driver.find_element(By.CSS_SELECTOR, css), 20, css)


def _text(driver, css: str) -> str:
    return _element(driver, css).text.strip()


def _wait_text(driver, css: str, expected: str, timeout: float = 15) -> str:
    return _wait(lambda: _text(driver, css) if expected in _text(driver, css) else None, timeout,
                 f"{css} to show {expected!r} (shows {_text(driver, css)!r})")


def _screenshot(element, tmp_path: Path, name: str) -> Path:
    element.parent.execute_script("arguments[0].scrollIntoView({block: 'start'});", element)
    time.sleep(0.3)
    path = tmp_path / name
    element.screenshot(str(path))
    assert path.stat().st_size > 5_000, "the screenshot is (nearly) empty"
    target = os.environ.get("KOKORO_NB_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / name)
    return path


def _type(element, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    element.click()
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.DELETE)
    element.send_keys(text)


def _word_row(driver, word: str) -> list[str]:
    from selenium.webdriver.common.by import By

    for row in _element(driver, ".kokoro-phoneme-explorer .kokoro-table").find_elements(By.TAG_NAME, "tr"):
        cells = [cell.text.strip() for cell in row.find_elements(By.TAG_NAME, "td")]
        if cells and cells[0] == word:
            return cells
    raise AssertionError(f"{word} is not in the explorer's table")


# ----------------------------------------------------------------------------- tests

def test_phoneme_explorer_in_jupyterlab(lab, browser, tmp_path):
    _open_and_run_all(browser, lab, "02_phoneme_rules.ipynb")
    explorer = _element(browser, ".kokoro-phoneme-explorer")
    reference = RussianPhonemeProcessor()

    # Type a word: the IPA line and the word table follow, with the lexicon's stress.
    word = "молоко"
    phonemes, stress = reference.process_word(word)
    _type(_element(browser, ".kokoro-phoneme-explorer .kokoro-text textarea"), word)
    ipa = reference.text_to_ipa(word)
    _wait_text(browser, ".kokoro-phoneme-explorer .kokoro-ipa", f"IPA: /{ipa}/")
    # The table shows the phonemes with the stressed vowel in bold, the 0-based stressed
    # syllable and where the stress came from.
    assert _word_row(browser, word) == [word, f"/{''.join(phonemes)}/", str(stress.position),
                                        stress.source]
    assert stress.position == 2  # мо-ло-ко́, from the built-in lexicon

    # Switch vowel reduction off: the IPA changes to the unreduced vowels, and the changes
    # table names the word.
    _element(browser, ".kokoro-phoneme-explorer .kokoro-rule-vowel_reduction input").click()
    unreduced = RussianPhonemeProcessor(rules=replace(PRESETS["default"], vowel_reduction=False))
    ipa_off = unreduced.text_to_ipa(word)
    assert ipa_off != ipa
    _wait_text(browser, ".kokoro-phoneme-explorer .kokoro-ipa", f"IPA: /{ipa_off}/")
    assert word in _text(browser, ".kokoro-phoneme-explorer .kokoro-changes")
    _element(browser, ".kokoro-phoneme-explorer .kokoro-rule-vowel_reduction input").click()
    _wait_text(browser, ".kokoro-phoneme-explorer .kokoro-ipa", f"IPA: /{ipa}/")

    # A stress-dictionary entry (first syllable) wins over the lexicon.
    _type(_element(browser, ".kokoro-phoneme-explorer .kokoro-dict-word input"), word)
    _type(_element(browser, ".kokoro-phoneme-explorer .kokoro-dict-syllable input"), "0")
    _element(browser, ".kokoro-phoneme-explorer button.kokoro-dict-add").click()
    reference.add_stress(word, 0)
    ipa_user = reference.text_to_ipa(word)
    user_stress = reference.process_word(word)[1]
    assert user_stress.position == 0 and ipa_user != ipa
    _wait_text(browser, ".kokoro-phoneme-explorer .kokoro-dict-status",
               f"(syllable 0, {user_stress.source})")
    _wait_text(browser, ".kokoro-phoneme-explorer .kokoro-ipa", f"IPA: /{ipa_user}/")
    assert _word_row(browser, word)[2:] == ["0", user_stress.source]

    _screenshot(explorer, tmp_path, "02_phoneme_explorer.png")


def test_mel_explorer_slider_in_jupyterlab(lab, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains

    _open_and_run_all(browser, lab, "03_mel_spectrograms.ipynb")
    explorer = _element(browser, ".kokoro-mel-explorer")
    image = _element(browser, ".kokoro-mel-explorer img.kokoro-mel-image")
    audio = _element(browser, ".kokoro-mel-explorer audio.kokoro-mel-audio")
    readout = ".kokoro-mel-explorer .kokoro-f-max .widget-readout"
    # The notebook's own cells left f_max at 4000 Hz (the slider's lower end).
    _wait_text(browser, readout, "4000")
    _wait_text(browser, ".kokoro-mel-explorer .kokoro-info", "up to 4000 Hz")
    before = {"image": image.get_attribute("src"), "audio": audio.get_attribute("src"),
              "info": _text(browser, ".kokoro-mel-explorer .kokoro-info")}
    assert before["image"] and before["audio"]

    # Drag the f_max handle to the right, as a learner would.
    handle = _element(browser, ".kokoro-mel-explorer .kokoro-f-max .noUi-handle")
    # Run All leaves the view at the notebook's end; a learner scrolls back to the explorer.
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
    ActionChains(browser).click_and_hold(handle).move_by_offset(60, 0).move_by_offset(40, 0) \
        .release().perform()
    f_max = int(_wait(lambda: (lambda v: v if v != "4000" else None)(_text(browser, readout)),
                      10, "the slider readout to move"))
    assert 4000 < f_max <= 11025
    info = _wait_text(browser, ".kokoro-mel-explorer .kokoro-info", f"up to {f_max} Hz", timeout=20)
    assert info != before["info"] and "round-trip distance" in info
    _wait(lambda: image.get_attribute("src") != before["image"], 10, "the plot to be redrawn")
    _wait(lambda: audio.get_attribute("src") != before["audio"], 10, "the audio to be replaced")
    width = browser.execute_script("return arguments[0].naturalWidth", image)
    assert width > 200, "the new plot did not load"

    _screenshot(explorer, tmp_path, "03_mel_explorer.png")
