"""Embedded dev services: a Kafka-compatible broker and a WebHDFS-compatible server."""
