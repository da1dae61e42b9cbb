//! Store throughput bench (filled in with the Redis backend).

fn main() {}
