//! Introspection of a live database into a dialect-neutral schema description.
