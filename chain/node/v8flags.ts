/**
 * V8 settings a node runs with. They must be given when the process starts (V8 sizes its
 * heap before any of our code runs; `v8.setFlagsFromString` afterwards does not resize the
 * young generation), so they are written where nodes are started: the `backstop` command's
 * first line (`#!/usr/bin/env -S node …`), the Makefile's `localnet` target and the test
 * harness (test/util/node.ts). test/node/cli.test.ts checks that those places agree with
 * this list. Run a node by other means with the same flags (or NODE_OPTIONS).
 *
 * `--max-semi-space-size=64`: a 64 MiB young generation (16 MiB by default). Under load
 * the data of the block being built (mempool entries, its write set, its results) lives
 * for a fraction of a second; with small semi-spaces every scavenge copies it again.
 * Measured with the RPC benchmark: about 430 scavenges over 60,000 txs taking 2.8–3.6 s
 * of the main thread, against about 136 taking 2.1–2.6 s with 64 MiB (BENCHMARKS.md).
 */
export const NODE_V8_FLAGS: readonly string[] = ["--max-semi-space-size=64"];
