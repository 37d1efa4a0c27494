"""The page to try a model (``recipes/app.py``), served on a free local port with the stage-2 export of the
demo's settings, as programs and people meet it: Gradio's own client calls its ``classify`` endpoint, and a real
headless Chromium (Debian's package, driven by Playwright) uploads a wav and sees the predicted label, then a
broken file and its error. The Hugging Face Space that ``recipes/export.py --space`` writes builds the same page
from the model folder alone, and ``recipes/upload.py --space_id`` pushes it as a Gradio Space (planned here, never
sent). Nothing reaches beyond 127.0.0.1: the server runs with connections elsewhere refused and reported, the
browser's requests elsewhere are refused and listed, and both lists must stay empty.

One server and one browser serve the whole module. The screenshot of the page after a classification is written
to ``test_artifacts/app_page.png`` (git ignores it). Chromium is ``$CHROMIUM`` (default ``/usr/bin/chromium``);
without it the browser tests are skipped, except under REQUIRE_BROWSER=1, which CI (``.ci/run``, which installs
it) sets.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from huggingface_hub import SpaceCard

from custom_modules.gradio_page import read_model_card
from recipes import app, export, upload
from recipes.hub import upload_plans
from recipes.hub.space import SPACE_FOLDER, SPACE_REQUIREMENTS, gradio_pin
from tests.conftest import (
    ONE_THREAD,
    REPO,
    STAGE2_REPO_ID,
    WITHOUT_THE_RECIPE,
    run_command,
    run_recipe,
    write_float_wav,
)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "test_artifacts"
SPACE_ID = "test-user/try-ser-two-stage-fold2"
LOOPBACK = ("127.0.0.1", "::1", "localhost")
# Runs a script with every connection beyond this machine refused and reported on stderr (the server's
# analytics, version checks, fonts or share links would show here).
LOOPBACK_ONLY = r"""
import runpy
import socket
import sys

LOOPBACK = ("127.0.0.1", "::1", "localhost")
connect, connect_ex = socket.socket.connect, socket.socket.connect_ex


def refuse_beyond_loopback(original):
    def guarded(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
            print(f"REFUSED a connection to {address}", file=sys.stderr, flush=True)
            raise OSError(f"the tests allow no connection beyond 127.0.0.1 ({address})")
        return original(self, address)

    return guarded


socket.socket.connect = refuse_beyond_loopback(connect)
socket.socket.connect_ex = refuse_beyond_loopback(connect_ex)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def free_port():
    """A port nobody listens on now (the system's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app_server(exported, tmp_path_factory):
    """``recipes/app.py`` serving the stage-2 export on a free port: ``{"url", "log"}``; stopped afterwards."""
    folder = tmp_path_factory.mktemp("app")
    guard, log_path = folder / "loopback_only.py", folder / "app.log"
    guard.write_text(LOOPBACK_ONLY, encoding="utf-8")
    port = free_port()
    env = {**os.environ, **ONE_THREAD, "GRADIO_TEMP_DIR": str(folder / "gradio")}
    command = [sys.executable, guard, "recipes/app.py", "--model", exported["stage2"], "--port", str(port)]
    with open(log_path, "w", encoding="utf-8") as log:
        server = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                raise AssertionError(f"app.py ended ({server.returncode}):\n{log_path.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"app.py did not serve {url}:\n{log_path.read_text()[-4000:]}") from None
                time.sleep(0.5)
        yield {"url": url, "log": log_path}
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "REFUSED" not in log_path.read_text(encoding="utf-8"), "the server reached beyond 127.0.0.1"


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory):
    """A generated 4.5 s voiced sound (a gliding harmonic tone): longer than one 3 s window of the timeline."""
    rate = 16000
    time_s = np.arange(int(4.5 * rate)) / rate
    pitch = 140 + 40 * np.sin(2 * np.pi * 0.5 * time_s)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    signal = sum(0.2 / harmonic * np.sin(harmonic * phase) for harmonic in range(1, 6))
    return write_float_wav(tmp_path_factory.mktemp("audio") / "speech.wav", signal, rate)


@pytest.fixture(scope="module")
def broken_wav(tmp_path_factory):
    """A file named like a wav that holds no audio."""
    path = tmp_path_factory.mktemp("broken") / "broken.wav"
    path.write_bytes(b"RIFF, but no audio follows")
    return str(path)


@pytest.fixture
def loopback_only_here(monkeypatch):
    """This process may connect to 127.0.0.1 only (Gradio's client)."""
    connect = socket.socket.connect

    def guarded(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
            raise AssertionError(f"a connection beyond 127.0.0.1: {address}")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def confidences(label_output):
    """A Label's output as Gradio's client returns it -> {label: probability}."""
    return {item["label"]: item["confidence"] for item in label_output["confidences"]}


# ---- Gradio's Python client --------------------------------------------------------------------------------


def test_gradio_client_classify_gives_one_of_the_models_labels_with_probabilities_summing_to_one(
    app_server, recognizers, speech_wav, broken_wav, loopback_only_here
):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    label_sets = recognizers["stage2"].label_sets
    expected = recognizers["stage2"].predict_files([speech_wav])[0]
    client = Client(app_server["url"], verbose=False)
    outputs = client.predict(handle_file(speech_wav), api_name="/classify")
    assert len(outputs) == len(label_sets), "emotion, then each other prediction the model makes"
    for name, output in zip(label_sets, outputs):
        probabilities = confidences(output)
        assert output["label"] in label_sets[name] and output["label"] == expected[name]
        assert set(probabilities) == set(label_sets[name])
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert probabilities == pytest.approx(expected[f"{name}_probs"], abs=1e-5)
    with pytest.raises(AppError, match="broken.wav: cannot read audio"):
        client.predict(handle_file(broken_wav), api_name="/classify")


# ---- the page in a browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium (Debian's package) driven by Playwright."""
    if not os.path.isfile(CHROMIUM):
        problem = f"no Chromium at {CHROMIUM} (apt-get install chromium; or set CHROMIUM)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_server):
    """A fresh tab on the app; requests beyond the server are refused, and must be none."""
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    elsewhere = []

    def local_only(route):
        if route.request.url.startswith(app_server["url"]):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    tab.route("**/*", local_only)
    tab.set_default_timeout(60_000)
    tab.goto(app_server["url"])
    yield tab
    tab.close()
    assert elsewhere == [], "the page asked for something beyond 127.0.0.1"


def test_page_shows_the_model_card_then_the_label_and_timeline_of_an_uploaded_wav(
    page, exported, recognizers, speech_wav, tmp_path
):
    from playwright.sync_api import expect

    expected = recognizers["stage2"].predict_files([speech_wav])[0]
    expect(page).to_have_title(read_model_card(exported["stage2"])["title"])
    expect(page.get_by_role("heading", name="Limitations")).to_be_visible()
    page.locator("input[type=file]").set_input_files(speech_wav)
    for name in recognizers["stage2"].label_sets:
        heading = page.locator(f"#prediction-{name} [data-testid=label-output-value]")
        expect(heading).to_have_text(expected[name])
    expect(page.locator("#timeline img")).to_be_visible()
    screenshot = tmp_path / "app_page.png"
    page.screenshot(path=str(screenshot), full_page=True)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(screenshot, ARTIFACTS / "app_page.png")


def test_page_shows_a_broken_files_error_once_the_previous_result_is_cleared(page, speech_wav, broken_wav):
    from playwright.sync_api import expect

    page.locator("input[type=file]").set_input_files(speech_wav)
    expect(page.locator("#prediction-emotion [data-testid=label-output-value]")).to_be_visible()
    # The next file as a user gives it: the player's upload button clears the audio and its results first.
    page.get_by_role("button", name="Upload file").click()
    expect(page.locator("#prediction-emotion [data-testid=label-output-value]")).to_have_count(0)
    expect(page.locator("#timeline img")).to_have_count(0)
    page.locator("input[type=file]").set_input_files(broken_wav)
    expect(page.get_by_text("broken.wav: cannot read audio").first).to_be_visible()
    expect(page.locator("#prediction-emotion [data-testid=label-output-value]")).to_have_count(0)
    expect(page.get_by_text("Traceback")).to_have_count(0)


# ---- the command's input errors ------------------------------------------------------------------------


def test_backend_onnx_without_model_onnx_and_a_folder_that_is_no_export_are_one_line_errors(exported, tmp_path, capsys):
    without_onnx = tmp_path / "without_onnx"
    shutil.copytree(exported["stage2"], without_onnx, ignore=shutil.ignore_patterns("*.onnx", "onnx_interface.py"))
    assert app.main(["--model", str(without_onnx), "--backend", "onnx"]) == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and message.startswith("app.py: error: ")
    assert "has no onnx_interface.py" in message and "recipes/export.py --onnx" in message
    assert app.main(["--model", str(tmp_path)]) == 2
    assert "has no custom_interface.py: export it with recipes/export.py" in capsys.readouterr().err


# ---- the Space -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def space_export(stage2_run, tmp_path_factory):
    """The stage-2 run exported with ``--space`` for ``STAGE2_REPO_ID``."""
    folder = tmp_path_factory.mktemp("space_export") / "exported"
    run_recipe(
        "recipes/export.py", "--experiment_folder", stage2_run, "--output_folder", folder, "--repo_id", STAGE2_REPO_ID,
        "--space", env=ONE_THREAD,
    )  # fmt: skip
    return folder


def test_export_space_writes_the_spaces_app_pinned_requirements_and_front_matter(space_export, capsys):
    space = space_export / SPACE_FOLDER
    assert sorted(os.listdir(space)) == ["README.md", "app.py", "requirements.txt"]
    card = SpaceCard.load(space / "README.md").data
    assert (card.sdk, card.app_file, card.models, card.preload_from_hub) == (
        "gradio",
        "app.py",
        [STAGE2_REPO_ID],
        [STAGE2_REPO_ID],
    )
    import gradio

    assert card.sdk_version == gradio_pin() == gradio.__version__, "the Space runs the Gradio the tests ran"
    assert (space / "requirements.txt").read_text() == open(SPACE_REQUIREMENTS, encoding="utf-8").read()
    pins = set((REPO / "requirements.txt").read_text(encoding="utf-8").splitlines())
    space_pins = [line for line in (space / "requirements.txt").read_text().splitlines() if "==" in line]
    assert all(line in pins for line in space_pins), "pinned like the recipe's own stack"
    names = {line.split("==")[0] for line in space_pins}
    assert {"gradio", "speechbrain", "torch"} <= names and not names & {"pytest", "playwright", "ruff", "uv"}
    with pytest.raises(SystemExit) as refused:
        export.main(["--experiment_folder", "x", "--output_folder", "y", "--space"])
    assert refused.value.code == 2
    assert "--space needs --repo_id" in capsys.readouterr().err


def test_space_app_builds_the_page_from_the_model_folder_alone(space_export, tmp_path):
    """In a fresh interpreter where nothing of this repository can be imported, the Space's app.py loads the
    model folder and builds its page (from the model's own code) with both API endpoints."""
    script = (
        WITHOUT_THE_RECIPE
        + r"""
import json
import runpy

space_app, model_folder, report = sys.argv[1:]
page, module, _ = runpy.run_path(space_app)["build"](["--model", model_folder])
with open(report, "w", encoding="utf-8") as handle:
    public = sorted(f.api_name for f in page.fns.values() if f.api_visibility == "public")
    json.dump({"endpoints": public, "module": module.__name__, "title": page.title}, handle)
"""
    )
    (tmp_path / "space_check.py").write_text(script, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    report = tmp_path / "report.json"
    done = run_command(
        tmp_path / "space_check.py", space_export / SPACE_FOLDER / "app.py", space_export, report, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr[-4000:]
    built = json.loads(report.read_text(encoding="utf-8"))
    assert built["endpoints"] == ["classify", "timeline"]
    assert built["module"].startswith("ser_model_") and built["module"].endswith(".gradio_page")
    assert built["title"].startswith("Speech emotion recognition")


def test_upload_pushes_the_space_after_the_model_as_a_gradio_space(space_export, capsys):
    both = ["--model", str(space_export), "--repo_id", STAGE2_REPO_ID, "--space_id", SPACE_ID]
    assert upload.main([*both, "--dry_run"]) == 0
    printed = capsys.readouterr().out
    assert f"model repository {STAGE2_REPO_ID}" in printed and f"gradio space repository {SPACE_ID}" in printed
    model_plan = upload_plans.upload_plan(str(space_export), STAGE2_REPO_ID)
    assert not any(name.startswith(f"{SPACE_FOLDER}/") for name in model_plan["files"]), "the Space is its own repo"
    space_plan = upload_plans.space_upload_plan(str(space_export), SPACE_ID, STAGE2_REPO_ID)
    assert space_plan["files"] == ["README.md", "app.py", "requirements.txt"]

    class RecordingApi:
        """huggingface_hub's HfApi as far as upload() calls it, recording the calls instead of sending them."""

        def __init__(self):
            self.calls = []

        def create_repo(self, **kwargs):
            self.calls.append(("create_repo", kwargs))

        def upload_folder(self, **kwargs):
            self.calls.append(("upload_folder", kwargs))
            return type("Commit", (), {"commit_url": f"https://huggingface.co/spaces/{kwargs['repo_id']}/commit/1"})

    api = RecordingApi()
    upload_plans.upload(space_plan, api=api)
    (_, created), (_, uploaded) = api.calls
    assert created["repo_type"] == uploaded["repo_type"] == "space" and created["space_sdk"] == "gradio"
    assert uploaded["folder_path"] == str(space_export / SPACE_FOLDER)
    with pytest.raises(upload_plans.UploadError, match=f"loads the model {STAGE2_REPO_ID}, not someone/else"):
        upload_plans.space_upload_plan(str(space_export), SPACE_ID, "someone/else")


def test_the_onnx_backend_gives_the_page_the_same_labels_and_predictions(exported, speech_wav):
    torch_model = app.load_recognizer(exported["stage2"], "torch", "cpu")
    onnx_model = app.load_recognizer(exported["stage2"], "onnx", "cpu")
    assert onnx_model.label_sets == torch_model.label_sets
    expected, got = torch_model.predict_files([str(speech_wav)])[0], onnx_model.predict_files([str(speech_wav)])[0]
    assert got["emotion"] == expected["emotion"]
    assert max(abs(got["emotion_probs"][k] - v) for k, v in expected["emotion_probs"].items()) < 1e-4
