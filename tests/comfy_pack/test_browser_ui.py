"""ComfyUI's real frontend (the one ComfyUI 0.30.0 pins, 1.47.12) in Debian's Chromium, driven by Playwright
(no browser download):
the shipped workflows open from the template browser with every node type known, every PersonaLive
node shows its widgets, and a run queued from the UI finishes. Screenshots go to the artefacts folder
(PERSONALIVE_TEST_ARTEFACTS, outside git)."""

from __future__ import annotations

import itertools
import json
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers import chromium, unavailable

from . import server
from . import workflow_check as wc
from .conftest import TEST_SIZE, tiny_server
from .workflow_check import NODE_IDS

pytestmark = pytest.mark.browser

_seeds = itertools.count(5000)


class UI:
    def __init__(self, page, artefacts: Path, prefix: str = ""):
        self.page, self.artefacts, self.errors, self.prefix = page, artefacts, [], prefix

    def js(self, script: str, arg=None):
        return self.page.evaluate(script, arg)

    def shot(self, name: str) -> Path:
        self.js("() => window.app.canvas.setDirty(true, true)")
        self.page.wait_for_timeout(300)
        path = self.artefacts / f"ui_{self.prefix}{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def node_types(self) -> list[str]:
        return self.js("() => window.app.graph._nodes.map(n => n.type)")

    def unknown_node_types(self) -> list[str]:
        return self.js(
            "() => window.app.graph._nodes.filter(n => !LiteGraph.registered_node_types[n.type]).map(n => n.type)"
        )

    def missing_nodes_dialog(self) -> bool:
        text = self.js("() => Array.from(document.querySelectorAll('.p-dialog')).map(d => d.innerText).join('\\n')")
        return "were not found" in text or "Missing" in text

    def fit(self):
        self.js("async () => { await window.app.extensionManager.command.execute('Comfy.Canvas.FitView'); }")


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module (Playwright's sync API runs one at a time)."""
    with chromium() as browser:
        yield browser


@contextmanager
def open_ui(browser, url: str, client, artefacts_dir: Path, name: str = ""):
    """ComfyUI's page at `url` in a new tab, loaded, without the first-run dialog."""
    client.post_json("/settings/Comfy.TutorialCompleted", True)  # no first-run template dialog
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    ui = UI(page, artefacts_dir, name)
    page.on("pageerror", lambda e: ui.errors.append(str(e)))
    try:
        page.goto(url + "/", wait_until="domcontentloaded")
        page.wait_for_function("() => window.app && window.app.graph && window.app.canvas", timeout=120_000)
        page.wait_for_timeout(1500)
        yield ui
    finally:
        page.close()


@pytest.fixture(scope="module")
def ui(comfy_server, client, artefacts_dir, browser):
    if comfy_server.lean:
        unavailable("the lean ComfyUI runtime has no frontend")
    with open_ui(browser, comfy_server.url, client, artefacts_dir) as ui:
        yield ui


@pytest.fixture(scope="module")
def newest_ui(tmp_path_factory, tiny_weights_root, artefacts_dir, browser):
    """The same ComfyUI serving the newest frontend package (provision_comfyui.sh installs it beside)."""
    from personalive_core.comfy_client import ComfyClient

    try:
        runtime = server.find_runtime()
    except server.RuntimeUnavailable as exc:
        unavailable(str(exc))
    static = runtime.newest_frontend()
    if static is None:
        unavailable(f"no frontend {server.NEWEST_FRONTEND} beside {runtime.comfyui_dir}: run scripts/provision_comfyui.sh")
    srv = tiny_server(tmp_path_factory.mktemp("comfy_newest_frontend"), tiny_weights_root)
    srv.extra_args = ["--front-end-root", str(static)]
    client = ComfyClient(srv.url, timeout=60)
    with srv, open_ui(browser, srv.url, client, artefacts_dir, f"frontend{server.NEWEST_FRONTEND}_") as ui:
        ui.client = client
        yield ui


def check_template_opens(ui, client, name):
    """A shipped workflow opens from the template browser with every node known, and the frontend would
    queue the shipped API workflow (plus inputs newer than it, at their defaults)."""
    ui.js("() => window.app.graph.clear()")
    ui.js("async () => { await window.app.extensionManager.command.execute('Comfy.BrowseTemplates'); }")
    ui.page.get_by_text(server.PACK_NAME, exact=True).first.click(timeout=30_000)
    ui.page.get_by_title(name, exact=True).first.click(timeout=30_000)
    ui.page.wait_for_function(
        "() => window.app.graph._nodes.some(n => n.type === 'PersonaLiveSampler4Step')", timeout=30_000
    )
    ui.page.wait_for_timeout(500)
    expected = [n["type"] for n in wc.load(wc.WORKFLOWS / f"{name}.json")["nodes"]]
    assert sorted(ui.node_types()) == sorted(expected)
    assert ui.unknown_node_types() == []
    assert not ui.missing_nodes_dialog()
    queued = ui.js("async () => (await window.app.graphToPrompt()).output")
    api = wc.strip_meta(wc.load(wc.API_WORKFLOWS / f"{name}.json"))
    assert wc.without_unset_defaults(wc.strip_meta(queued), api, client.object_info()) == api
    ui.fit()
    ui.shot(f"template_{name}")


@pytest.mark.parametrize("name", [p.stem for p in wc.ui_files()])
def test_workflow_opens_from_the_template_browser(ui, client, name):
    check_template_opens(ui, client, name)


@pytest.mark.parametrize("name", [p.stem for p in wc.ui_files()])
def test_workflow_opens_in_the_newest_frontend(newest_ui, name):
    check_template_opens(newest_ui, newest_ui.client, name)
    assert newest_ui.errors == []


def test_every_personalive_node_renders_its_widgets(ui, client):
    info = client.object_info()
    ui.js("() => window.app.graph.clear()")
    rendered = ui.js(
        """(types) => types.map((type, i) => {
        const node = LiteGraph.createNode(type);
        node.pos = [40 + (i % 4) * 380, 40 + Math.floor(i / 4) * 320];
        window.app.graph.add(node);
        return {type, widgets: (node.widgets || []).map(w => w.name),
                inputs: (node.inputs || []).filter(i => !i.widget).map(i => i.name + ':' + i.type),
                outputs: (node.outputs || []).map(o => o.name + ':' + o.type), size: node.size};
    })""",
        NODE_IDS,
    )
    for node in rendered:
        schema = info[node["type"]]
        shown = [section for kind, section in schema["input"].items() if kind != "hidden"]  # hidden: ComfyUI fills
        widgets = [name for section in shown for name, spec in section.items() if wc.is_widget(spec)]
        sockets = [f"{name}:{spec[0]}" for section in shown for name, spec in section.items() if not wc.is_widget(spec)]
        assert [w for w in node["widgets"] if w != "control_after_generate"] == widgets, node["type"]
        assert node["inputs"] == sockets, node["type"]
        assert node["outputs"] == [f"{n}:{t}" for n, t in zip(schema["output_name"], schema["output"])]
        assert node["size"][0] > 100 and node["size"][1] > 40
    ui.fit()
    ui.shot("personalive_nodes")


def test_a_run_queued_from_the_ui_finishes(ui, comfy_server):
    workflow = wc.load(wc.WORKFLOWS / "personalive_animate_from_image.json")
    ui.js("async (wf) => { await window.app.loadGraphData(wf); }", workflow)
    ui.page.wait_for_timeout(500)
    ui.js(
        """([size, seed]) => {
        const set = (type, name, value) => window.app.graph._nodes.filter(n => n.type === type)
            .forEach(n => { n.widgets.find(w => w.name === name).value = value; });
        set('LoadPersonaLiveModels', 'weights_folder', 'tiny');
        set('ExtractLivePortraitKeypoints', 'size', size);
        set('EncodeReference', 'size', size);
        set('PersonaLiveSampler4Step', 'seed', seed);
    }""",
        [TEST_SIZE, next(_seeds)],
    )
    ui.js("async () => { await window.app.queuePrompt(0, 1); }")
    ui.page.wait_for_function(
        "() => window.app.graph._nodes.some(n => n.type === 'SaveImage' && n.imgs && n.imgs.length)", timeout=600_000
    )
    ui.fit()
    ui.shot("run_finished")
    history = json.loads(ui.page.request.get(comfy_server.url + "/history?max_items=1").text())
    (entry,) = history.values()
    assert entry["status"]["status_str"] == "success"
    assert ui.errors == [] or all("api.comfy.org" in e or "reading 'id'" in e for e in ui.errors), ui.errors


def test_the_live_page_opens_from_the_sidebar(ui):
    """The pack's frontend extension adds a sidebar tab that shows the live page (camera in, portrait out)."""
    ui.page.locator(".personalive-live-tab-button").first.click(timeout=30_000)
    page = ui.page.frame_locator("iframe[title='PersonaLive live mode']")
    page.locator("#start").wait_for(timeout=30_000)
    page.locator("#weights option[value='tiny']").wait_for(state="attached", timeout=30_000)
    ui.page.screenshot(path=str(ui.artefacts / "ui_live_sidebar.png"))
