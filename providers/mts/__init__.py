"""Alibaba Cloud MPS/MTS intelligent production (2014-06-18): client, wire format, emulator."""
