"""The researcher's first path: a template notebook opened and run in JupyterLab, driven in a real browser.

A headless JupyterLab, started by ./lab.sh (the README's command), serves a temporary copy of notebooks/ (results and runs go to a temporary tree, as
./lab.sh sends interactive runs to scratch/), and Debian's Chromium, driven by Selenium through Debian's
chromedriver (no browser download), opens ddgan.ipynb, checks that opening it leaves it unmodified, runs
Run > Run All Cells at the smoke defaults, saves, and checks that no cell errored and the figures rendered.
The screenshot is kept under scratch/test-artifacts/ (or $SEMLIB_TEST_ARTIFACTS).

Needs `chromium` and `chromium-driver` (./run_tests.sh installs them with apt-get where it can); without
them the test is skipped with that reason.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
NOTEBOOK = "ddgan.ipynb"

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                 reason="no Chromium / chromedriver: apt-get install chromium chromium-driver")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def lab(tmp_path):
    """A headless JupyterLab on a copy of notebooks/, isolated from the user's Jupyter config and the repo's
    results; yields (base url, token, served folder)."""
    pytest.importorskip("jupyterlab")
    served = tmp_path / "served"
    shutil.copytree(ROOT / "notebooks", served)
    port, token = _free_port(), "semlib-browser-test"
    env = dict(os.environ, SEMLIB_RESULTS=str(tmp_path / "results"), SEMLIB_RUNS=str(tmp_path / "runs"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "jcfg"), JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    # the README's command, serving the copy
    env["SEMLIB_LAB_ROOT"] = str(served)
    cmd = [str(ROOT / "lab.sh"), "--no-browser", f"--port={port}", "--ip=127.0.0.1", f"--IdentityProvider.token={token}"]
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "lab.log").read_text()
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start in 120 s:\n" + (tmp_path / "lab.log").read_text())
        # lab.sh's settings: no autosave (a template run here keeps its outputs only when saved)
        req = urllib.request.Request(f"{url}/lab/api/settings/@jupyterlab/docmanager-extension:plugin",
                                     headers={"Authorization": f"token {token}"})
        schema = json.loads(urllib.request.urlopen(req, timeout=10).read())["schema"]
        assert schema["properties"]["autosave"]["default"] is False
        yield url, token, served
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture()
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")          # Selenium Manager must not try to download anything
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        yield drv
    finally:
        drv.quit()


def _wait(fn, timeout: float, what: str, poll: float = 0.5):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(poll)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def _menu(drv, top: str, item: str):
    from selenium.webdriver.common.by import By
    drv.find_element(By.XPATH, f"//li[contains(@class,'lm-MenuBar-item')][.//div[text()='{top}']]").click()
    _wait(lambda: drv.find_elements(By.XPATH, f"//li[contains(@class,'lm-Menu-item')][.//div[text()='{item}']]"),
          10, f"menu item {top} > {item}")[0].click()


def test_template_runs_in_jupyterlab_in_a_real_browser(lab, browser):
    from selenium.webdriver.common.by import By

    url, token, served = lab
    nb_path = served / NOTEBOOK
    before = nb_path.read_bytes()
    committed_meta = (ROOT / "results" / "smoke" / "DDGAN-BASE-synthfaces" / "meta.json").read_bytes()
    drv = browser
    drv.get(f"{url}/lab/tree/{NOTEBOOK}?token={token}")

    def status():
        s = drv.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator")
        return s and s[0].get_attribute("data-status")
    _wait(lambda: status() == "idle", 120, "the notebook to open with an idle kernel")
    time.sleep(3)                                      # let JupyterLab apply whatever the kernel reports
    tab = drv.find_element(By.CSS_SELECTOR, "li.lm-TabBar-tab.jp-mod-current")
    if "jp-mod-dirty" in tab.get_attribute("class"):      # save it to say what JupyterLab changed
        _menu(drv, "File", "Save Notebook")
        time.sleep(3)
        a, b = json.loads(before), json.loads(nb_path.read_text())
        diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if k != "cells" and a.get(k) != b.get(k)}
        cells = [(i, x, y) for i, (x, y) in enumerate(zip(a["cells"], b["cells"])) if x != y][:2]
        py = "%d.%d.%d" % sys.version_info[:3]
        only_version = (not cells and set(diff) == {"metadata"} and a["metadata"]["language_info"]["version"] != py and
                        {**a["metadata"], "language_info": {**a["metadata"]["language_info"], "version": py}} == b["metadata"])
        if not only_version:          # another Python than the templates' marks them modified, and only by its version
            pytest.fail(f"opening the template marked it modified; saved, it differs in {diff} and cells {cells}")
        before = nb_path.read_bytes()
    assert nb_path.read_bytes() == before, "opening the template rewrote it on disk"

    _menu(drv, "Run", "Run All Cells")
    _wait(lambda: status() == "busy", 30, "the kernel to start running")

    def finished():
        prompts = [p.text.strip() for p in drv.find_elements(By.CSS_SELECTOR, ".jp-CodeCell .jp-InputPrompt")]
        return status() == "idle" and prompts and all(p.startswith("[") and p[1:-2].isdigit() for p in prompts)
    _wait(finished, 600, "every cell to run", poll=2)

    art = Path(os.environ.get("SEMLIB_TEST_ARTIFACTS", ROOT / "scratch" / "test-artifacts"))
    art.mkdir(parents=True, exist_ok=True)
    imgs = drv.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output img")
    drv.execute_script("arguments[0].scrollIntoView();", imgs[-1]) if imgs else None
    drv.save_screenshot(str(art / "jupyterlab_ddgan.png"))
    rendered = [i for i in imgs if drv.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i)]
    assert len(rendered) >= 3, f"{len(rendered)} figures rendered in the browser"

    _menu(drv, "File", "Save Notebook")
    _wait(lambda: "jp-mod-dirty" not in drv.find_element(By.CSS_SELECTOR, "li.lm-TabBar-tab.jp-mod-current")
          .get_attribute("class"), 30, "the save")
    nb = nbformat.read(nb_path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, "a cell errored: " + json.dumps(errors[0])[:2000]
    assert all(c.execution_count for c in code)
    assert sum("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", [])) >= 3
    # the run wrote the temporary results tree, not the repository's committed one
    assert (served.parent / "results" / "smoke" / "DDGAN-BASE-synthfaces" / "verdict.json").exists()
    assert (ROOT / "results" / "smoke" / "DDGAN-BASE-synthfaces" / "meta.json").read_bytes() == committed_meta
