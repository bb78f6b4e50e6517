"""HTTP service for a newsroom CMS pre-publish hook (``mtqa serve``).

``POST /v1/check`` speaks mtqa's JSON contract; ``POST /v2/check`` speaks LanguageTool's, so
LanguageTool clients (language-tool-python's ``remote_server``, editor plug-ins) can use mtqa as
their server. ``GET /`` is a review page. Models load at start-up; concurrent requests are checked
together in cross-request batches (see ``batcher``).
"""

from .app import ServiceConfig, create_app

__all__ = ["ServiceConfig", "create_app"]
