//! HTTP probing of an app: latency on a monotonic clock, down/slow/fast classification, rolling statistics.
