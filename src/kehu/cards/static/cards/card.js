// Card tabs: show one panel at a time without a round trip.
document.addEventListener("click", (event) => {
  const tab = event.target.closest("[data-tabs] [data-tab]");
  if (!tab) return;
  const name = tab.dataset.tab;
  tab.parentElement.querySelectorAll("[data-tab]").forEach((el) => {
    el.setAttribute("aria-selected", String(el === tab));
  });
  document.querySelectorAll("[data-panel]").forEach((panel) => {
    panel.hidden = panel.dataset.panel !== name;
  });
});
// Tag colours come from data attributes (the CSP forbids inline styles in markup).
function paintTags(root) {
  root.querySelectorAll(".tag[data-color]").forEach((el) => {
    el.style.borderColor = el.dataset.color;
    el.style.color = el.dataset.color;
  });
}
document.addEventListener("DOMContentLoaded", () => paintTags(document));
document.addEventListener("htmx:afterSwap", (event) => paintTags(event.target));
