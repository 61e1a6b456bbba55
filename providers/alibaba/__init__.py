"""Alibaba Cloud Machine Translation (alimt 2018-10-12): client, wire format, emulator."""
