//! Tests of the power-loss run.
