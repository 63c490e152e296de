"""HTTP wiring: create_app, middleware, the public handlers and pages, the access log and the
connection guard."""
