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
