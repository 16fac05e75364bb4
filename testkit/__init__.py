"""What the tests, the demo, the soak and the benchmark share (not part of the daemon)."""
