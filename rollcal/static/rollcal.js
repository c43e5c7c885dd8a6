// rollcal's small amount of script: progressive enhancement only; every page works without it.
document.addEventListener("DOMContentLoaded", () => {
  // Buttons that ask before a consequential step: <button data-confirm="Really?">.
  document.querySelectorAll("[data-confirm]").forEach((element) => {
    element.addEventListener("click", (event) => {
      if (!window.confirm(element.dataset.confirm)) event.preventDefault();
    });
  });
});

document.addEventListener("DOMContentLoaded", () => {
  // "Select all" for a list of checkboxes: <button data-check-all="FIELD_ID">.
  document.querySelectorAll("[data-check-all]").forEach((button) => {
    button.addEventListener("click", () => {
      const list = document.getElementById(button.dataset.checkAll);
      if (!list) return;
      const boxes = list.querySelectorAll("input[type=checkbox]");
      const check = Array.from(boxes).some((box) => !box.checked);
      boxes.forEach((box) => { box.checked = check; });
    });
  });
});

document.addEventListener("DOMContentLoaded", () => {
  // The time-zone picker gets a search box: typing "mani" leaves Manila and its kin.
  document.querySelectorAll("select[name=timezone]").forEach((select) => {
    const search = document.createElement("input");
    search.type = "search";
    search.className = "zone-search";
    search.placeholder = "Find a city or zone";
    search.setAttribute("aria-label", "Find a time zone");
    search.setAttribute("aria-controls", select.id);
    select.before(search);
    search.addEventListener("input", () => {
      const words = search.value.trim().toLowerCase();
      let first = null;
      select.querySelectorAll("option").forEach((option) => {
        const hit = !words || `${option.value} ${option.text}`.toLowerCase().includes(words);
        option.hidden = !hit;
        if (hit && !first) first = option;
      });
      select.querySelectorAll("optgroup").forEach((group) => {
        group.hidden = !group.querySelector("option:not([hidden])");
      });
      if (words && first) select.value = first.value;
    });
  });
});

// Requests htmx sends carry the page's CSRF token, as the forms they replace would.
document.addEventListener("htmx:configRequest", (event) => {
  const token = document.querySelector("meta[name=csrf-token]");
  if (token) event.detail.headers["X-CSRFToken"] = token.content;
});
