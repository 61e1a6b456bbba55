"""Where requests come in: ``handlers.slack`` (one module per Slack surface, registered
on the Bolt app) and ``handlers.web`` (Tolk's own HTTP routes: provider callbacks, the
Refine pages, signed file links). Handlers parse, check, record work through the ports
they are given (``handlers.ports``) and answer; they never build provider requests, and
import neither the wiring nor the engine.
"""
