//! Shared helpers for the criterion benchmarks (frame loading).
