// Customer list behaviours, kept out of the HTML so the CSP can forbid inline script.
(function () {
  // "Select all" ticks every row checkbox of its group (rows are re-rendered by htmx).
  document.addEventListener("change", (event) => {
    const box = event.target;
    if (!box.matches("input[data-select-all]")) return;
    document
      .querySelectorAll(`input[data-group="${box.dataset.selectAll}"]`)
      .forEach((row) => { row.checked = box.checked; });
  });

  // The "save view" form saves what the list shows now, including htmx-driven changes.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.id !== "save-view-form") return;
    const field = form.querySelector("input[data-current-query]");
    if (field) field.value = window.location.search.replace(/^\?/, "");
  });

  // The bulk form refuses to post with nothing selected.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.id !== "bulk-form") return;
    if (!document.querySelector('input[name="ids"][form="bulk-form"]:checked')) {
      event.preventDefault();
      window.alert(form.dataset.emptyMessage || "Select customers first.");
    }
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
})();
