"""The web console: a static single-page app (HTML, ES modules, CSS) that only talks to the REST API under /api."""
