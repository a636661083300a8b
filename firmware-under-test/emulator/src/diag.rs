//! Diagnostics on stderr, each line stamped with how many frames the emulator had written to its
//! serial port when it wrote the line (`[frame N] `). The harness records the emulator's log and
//! its frames from two different pipes; the stamp lets it put each line between the same two
//! frames on every run, so a seeded run's transcript repeats byte for byte.

use std::sync::atomic::{AtomicU64, Ordering};

static FRAMES: AtomicU64 = AtomicU64::new(0);

/// A frame was written to the serial port.
pub fn frame_written() {
    FRAMES.fetch_add(1, Ordering::Relaxed);
}

/// Frames written so far.
pub fn frames() -> u64 {
    FRAMES.load(Ordering::Relaxed)
}

/// `eprintln!` with the frame stamp.
macro_rules! diag {
    ($($arg:tt)*) => {
        eprintln!("[frame {}] {}", $crate::diag::frames(), format_args!($($arg)*))
    };
}
