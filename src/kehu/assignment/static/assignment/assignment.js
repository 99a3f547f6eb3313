// Drag the assignment rules to reorder them: the new order is posted at once (htmx swaps the
// rows back in their saved order).
document.addEventListener("DOMContentLoaded", () => {
  const rows = document.querySelector("#rule-rows[data-sortable]");
  if (!rows || !window.Sortable) return;
  window.Sortable.create(rows, {
    handle: ".drag-handle",
    animation: 120,
    onEnd: () => {
      const form = document.getElementById("rule-order");
      window.htmx.ajax("POST", form.action, {source: form, target: "#rule-rows", swap: "innerHTML"});
    },
  });
});
