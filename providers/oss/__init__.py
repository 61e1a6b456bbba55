"""Alibaba Cloud OSS: V4 presigned GET URLs for MTS outputs, and a loopback emulator."""
