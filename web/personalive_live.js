// PersonaLive live mode inside ComfyUI: a sidebar tab and a menu command that open the live page
// served by this pack at /personalive/live/ (camera in, animated portrait out).
import { app } from "../../scripts/app.js";

const PAGE = "/personalive/live/";

app.registerExtension({
  name: "PersonaLive.Live",
  commands: [
    {
      id: "PersonaLive.OpenLive",
      label: "PersonaLive: open the live webcam page",
      icon: "pi pi-video",
      function: () => window.open(PAGE, "_blank"),
    },
  ],
  menuCommands: [{ path: ["PersonaLive"], commands: ["PersonaLive.OpenLive"] }],
  setup() {
    const manager = app.extensionManager;
    if (!manager || typeof manager.registerSidebarTab !== "function") return;
    manager.registerSidebarTab({
      id: "personalive-live",
      icon: "pi pi-video",
      title: "PersonaLive Live",
      tooltip: "PersonaLive live mode: a webcam drives a portrait",
      type: "custom",
      render: (element) => {
        const frame = document.createElement("iframe");
        frame.src = PAGE;
        frame.allow = "camera; microphone";
        frame.title = "PersonaLive live mode";
        frame.style.cssText = "width:100%;height:100%;min-height:600px;border:0";
        element.replaceChildren(frame);
      },
    });
  },
});
