"""Word lists the template guard reads (plain text, one term a line; see each file's header)."""
