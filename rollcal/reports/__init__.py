"""Reports: PDF rendering and its cache, charts, report pages and downloads."""
