// Keyboard labelling: keys 1–9 press the matching option button, which saves the label
// (with any comment typed) and opens the next case. Progressive enhancement: the buttons
// work by mouse, touch and Tab/Enter without this file, and the form posts without htmx.
//
// With htmx the save swaps the next case into #labelling without reloading the page, so
// the form is looked up at each key press (the one found at load is replaced by then),
// and the new case's heading takes the focus, as a page load would announce it.
document.addEventListener("DOMContentLoaded", () => {
  if (!document.querySelector("form[data-labelling]")) return;
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    // Typing a comment must not choose a label.
    const target = event.target;
    if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]")) {
      return;
    }
    if (!/^[1-9]$/.test(event.key)) return;
    const form = document.querySelector("form[data-labelling]");
    const button = form && form.querySelector(`button[data-key="${event.key}"]`);
    if (!button || button.disabled) return;
    event.preventDefault();
    button.focus();
    button.click();
  });
  document.addEventListener("htmx:afterSettle", () => {
    const heading = document.querySelector("#labelling h1");
    if (heading) heading.focus();
  });
});
