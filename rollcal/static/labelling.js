// Keyboard labelling: keys 1–9 press the matching option button, which saves the label
// (with any comment typed) and opens the next case. Progressive enhancement: the buttons
// work by mouse, touch and Tab/Enter without this file.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-labelling]");
  if (!form) return;
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    // Typing a comment must not choose a label.
    const target = event.target;
    if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]")) {
      return;
    }
    if (!/^[1-9]$/.test(event.key)) return;
    const button = form.querySelector(`button[data-key="${event.key}"]`);
    if (!button || button.disabled) return;
    event.preventDefault();
    button.focus();
    button.click();
  });
});
