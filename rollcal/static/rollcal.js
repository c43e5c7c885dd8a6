// rollcal's small amount of script: progressive enhancement only; every page works without it.
document.addEventListener("DOMContentLoaded", () => {
  // Buttons that ask before a consequential step: <button data-confirm="Really?">.
  document.querySelectorAll("[data-confirm]").forEach((element) => {
    element.addEventListener("click", (event) => {
      if (!window.confirm(element.dataset.confirm)) event.preventDefault();
    });
  });
});
