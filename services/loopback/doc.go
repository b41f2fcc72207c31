// Package loopback holds the end-to-end tests and benchmarks of the four
// services: each test starts the real orchestrator, layering, wash-trading
// and aggregator HTTP servers on 127.0.0.1 (random ports) in-process, posts
// /orchestrate, and checks the files the aggregator writes.
package loopback
