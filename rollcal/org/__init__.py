"""The organisation: markets, lines of business, vendors, sites, and their admin pages."""
