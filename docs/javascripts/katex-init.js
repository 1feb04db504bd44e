// Render the math that pymdownx.arithmatex (generic mode) leaves in <span/div class="arithmatex">,
// with the KaTeX copy in vendor/katex (0.19.1, served with the site: no network needed).
// Material's instant navigation swaps pages without reloading, so render on every page change.
function renderMath() {
  for (const el of document.querySelectorAll(".arithmatex")) {
    if (el.dataset.katexDone) continue;
    const display = el.tagName === "DIV";
    const tex = el.textContent.trim().replace(/^\\[\[(]/, "").replace(/\\[\])]$/, "");
    katex.render(tex, el, { displayMode: display, throwOnError: false });
    el.dataset.katexDone = "1";
  }
}
if (typeof document$ !== "undefined") {
  document$.subscribe(renderMath);
} else {
  document.addEventListener("DOMContentLoaded", renderMath);
}
