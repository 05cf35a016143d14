"""A small, untyped shop application: the example project typeseer annotates."""
