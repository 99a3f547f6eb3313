// Review page: clicking a value picks it (its radio) and moves the highlight.
document.addEventListener("change", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.name.startsWith("choice:")) return;
  const row = input.closest("tr");
  if (!row) return;
  row.querySelectorAll("td.value").forEach((cell) => cell.classList.remove("chosen"));
  input.closest("td").classList.add("chosen");
});
