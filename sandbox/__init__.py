"""Local stand-ins for Slack used by tests, the terminal sandbox and benchmarks."""
