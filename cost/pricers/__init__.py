"""One pricing function per resource type, grouped by concern; ``registry`` maps types to them."""
