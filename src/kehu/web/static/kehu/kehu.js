// Small behaviours kept out of the HTML so the CSP can forbid inline script.
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el.matches("select[data-autosubmit], input[data-autosubmit]")) {
    el.form.requestSubmit();
  }
});
document.addEventListener("click", (event) => {
  const el = event.target.closest("[data-confirm]");
  if (el && !window.confirm(el.dataset.confirm)) {
    event.preventDefault();
  }
});
// Phone width: the main menu folds behind one button.
document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-nav-toggle]");
  if (!toggle) return;
  const bar = toggle.closest("[data-topbar]");
  const open = !bar.classList.contains("nav-open");
  bar.classList.toggle("nav-open", open);
  toggle.setAttribute("aria-expanded", String(open));
});
