"""Where requests come in: ``handlers.slack`` (one module per Slack surface, registered
on the Bolt app) and ``handlers.web`` (Tolk's own HTTP routes: provider callbacks and
the Refine pages). Handlers record work and answer; they never build provider requests.
"""
