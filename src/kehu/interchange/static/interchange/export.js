// The export form sends the list's current query, including filters changed through htmx
// (the page URL follows them), so the file holds what the list shows now.
(function () {
  const SKIP = ["cursor", "count", "format", "view"];
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.id !== "customer-export") return;
    form.querySelectorAll("input[data-list-param]").forEach((input) => input.remove());
    new URLSearchParams(window.location.search).forEach((value, key) => {
      if (SKIP.includes(key)) return;
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = key;
      input.value = value;
      input.dataset.listParam = "";
      form.appendChild(input);
    });
  });
})();
