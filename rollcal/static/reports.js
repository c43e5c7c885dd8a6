// The "preparing…" page of a report: htmx polls its status and swaps in the download
// link once the report is ready; this starts that download, once, so nobody has to
// click a second time. Without script the page reloads itself and offers the link.
document.addEventListener("htmx:afterSettle", () => {
  const link = document.querySelector("a[data-start-download]");
  if (!link) return;
  link.removeAttribute("data-start-download");
  link.click();
});
