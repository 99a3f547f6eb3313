// The form designer: fields are dragged (SortableJS) within and between sections; each has a
// width and, for keyboards, a "move to section" menu. Saving posts the layout as JSON.
document.addEventListener("DOMContentLoaded", () => {
  const root = document.querySelector("[data-designer]");
  if (!root) return;
  const sectionsBox = root.querySelector("[data-sections]");
  const sortable = (list) => {
    if (window.Sortable) {
      window.Sortable.create(list, {group: "fields", animation: 120, forceFallback: true,
                                    fallbackTolerance: 3, filter: "select", preventOnFilter: false,
                                    onEnd: refreshMenus});
    }
  };
  const sections = () => Array.from(sectionsBox.querySelectorAll("[data-section]"));
  const sectionName = (section, index) => {
    const title = section.querySelector("input[name=title]").value.trim();
    return title || `${index + 1}`;
  };
  function refreshMenus() {
    const names = sections().map(sectionName);
    root.querySelectorAll("select[data-move]").forEach((menu) => {
      const first = menu.options[0];
      menu.replaceChildren(first);
      names.forEach((name, index) => menu.add(new Option(name, String(index))));
      menu.value = "";
    });
  }
  sectionsBox.querySelectorAll("[data-fields]").forEach(sortable);
  refreshMenus();
  root.querySelector("[data-add-section]").addEventListener("click", () => {
    const template = root.querySelector("template[data-section-template]");
    const section = template.content.firstElementChild.cloneNode(true);
    sectionsBox.appendChild(section);
    sortable(section.querySelector("[data-fields]"));
    refreshMenus();
  });
  root.addEventListener("click", (event) => {
    const button = event.target.closest("[data-remove-section]");
    if (!button) return;
    const all = sections();
    if (all.length < 2) return;
    const section = button.closest("[data-section]");
    const target = all.find((s) => s !== section).querySelector("[data-fields]");
    section.querySelectorAll("[data-field]").forEach((field) => target.appendChild(field));
    section.remove();
    refreshMenus();
  });
  root.addEventListener("input", (event) => {
    if (event.target.name === "title") refreshMenus();
  });
  root.addEventListener("change", (event) => {
    const field = event.target.closest("[data-field]");
    if (!field) return;
    if (event.target.matches("select[data-width]")) {
      field.classList.remove("w-full", "w-half", "w-third");
      field.classList.add(`w-${event.target.value}`);
    } else if (event.target.matches("select[data-move]") && event.target.value !== "") {
      sections()[Number(event.target.value)].querySelector("[data-fields]").appendChild(field);
      refreshMenus();
      event.target.focus();
    }
  });
  root.addEventListener("submit", () => {
    const layout = sections().map((section) => ({
      title: section.querySelector("input[name=title]").value.trim(),
      fields: Array.from(section.querySelectorAll("[data-field]")).map((field) => ({
        field: field.dataset.field, width: field.querySelector("select[data-width]").value})),
    }));
    root.querySelector("[data-sections-input]").value = JSON.stringify(layout);
  });
});
