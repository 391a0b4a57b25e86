"""The page's own loading indicator: shown within 100 ms of any input to the dashboard that the kernel has
not answered yet, whatever the kernel is doing, and cleared when the kernel is idle again.

The header's indicator (SummaryBar.show_busy) is drawn by the kernel, so it can appear only once the kernel
has started on the click: behind a slow computation it came seconds late (issue 17). This one lives in the
page. It follows every request the page sends to the kernel (the widget manager's kernel connection:
`anyMessage` for what is sent, the `status` message that closes each one) and, on pointer or keyboard input
inside the dashboard, or when a request is sent, it shows itself after SHOW_AFTER_MS unless every request has
been answered by then. A quick update never flickers; nothing waits on the kernel to show it.

Where the page has no kernel connection to follow (another front end), it stays hidden and the header's
indicator is the only one. Where it has one, it says so (`following`), and the kernel leaves the header's
indicator out: one indicator is enough, and this one costs no message (issue 17: the header's was two of a
click's seven widget messages).
"""

from __future__ import annotations

import anywidget
import traitlets

# 70 ms, plus up to a frame (17 ms) to paint: visible within 100 ms of the input
SHOW_AFTER_MS = 70


class PendingIndicator(anywidget.AnyWidget):
    """A small "working…" badge at the top right of the page (see the module docstring)."""

    _esm = """
    const INPUTS = ["pointerdown", "keydown", "change", "input"];
    function render({ model, el }) {
      el.innerHTML = '<span class="te-pending" data-testid="pending" aria-live="polite" hidden>working&hellip;</span>';
      const badge = el.firstChild;
      const kernel = model.widget_manager && model.widget_manager.kernel;
      if (!kernel || !kernel.anyMessage || !kernel.iopubMessage) return;
      if (!model.get("following")) {  // the header's indicator is then left out (SummaryBar.show_busy)
        model.set("following", true);
        model.save_changes();
      }
      const delay = model.get("show_after_ms");
      const app = el.closest(".te-app") || document.body;
      const pending = new Set();  // requests sent to the kernel and not yet closed by its "idle" status
      let timer = null;
      const check = () => { timer = null; if (pending.size) badge.hidden = false; };
      const arm = () => { if (timer === null) timer = setTimeout(check, delay); };
      const onInput = (event) => { if (app.contains(event.target)) arm(); };
      const onMessage = (_, { msg, direction }) => {
        if (direction === "send" && msg.channel === "shell") { pending.add(msg.header.msg_id); arm(); }
      };
      const onIopub = (_, msg) => {
        if (msg.header.msg_type !== "status" || msg.content.execution_state !== "idle") return;
        pending.delete(msg.parent_header && msg.parent_header.msg_id);
        if (!pending.size) badge.hidden = true;
      };
      const onStatus = (_, status) => {  // a restarted or lost kernel answers nothing it was sent before
        if (status === "restarting" || status === "dead" || status === "autorestarting") {
          pending.clear(); badge.hidden = true;
        }
      };
      INPUTS.forEach((type) => document.addEventListener(type, onInput, true));
      kernel.anyMessage.connect(onMessage);
      kernel.iopubMessage.connect(onIopub);
      kernel.statusChanged.connect(onStatus);
      return () => {
        INPUTS.forEach((type) => document.removeEventListener(type, onInput, true));
        kernel.anyMessage.disconnect(onMessage);
        kernel.iopubMessage.disconnect(onIopub);
        kernel.statusChanged.disconnect(onStatus);
        if (timer !== null) clearTimeout(timer);
      };
    }
    export default { render };
    """
    _css = """
    .te-pending { position: fixed; top: 8px; right: 12px; z-index: 1000; padding: 3px 10px;
                  border-radius: 12px; background: #0072B2; color: white; font-weight: 600;
                  box-shadow: 0 1px 4px rgba(0, 0, 0, 0.3); }
    .te-pending[hidden] { display: none; }
    """
    show_after_ms = traitlets.Int(SHOW_AFTER_MS).tag(sync=True)
    # set by the page once this indicator follows the kernel's requests: every action the page asks for is then
    # covered here, and the kernel need not send the header's indicator on and off (two messages per click)
    following = traitlets.Bool(False).tag(sync=True)
