"""HTTP wiring: create_app, middleware, the public handlers and pages."""
