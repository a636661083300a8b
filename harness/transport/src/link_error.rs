//! Why a request failed: every error names the device, the request and what was last heard.

use std::time::Duration;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The port reached EOF or failed: the device is gone (unplugged, process died).
    #[error(
        "{device}: device gone while waiting for the response to {request}: {cause}; last received: {last}"
    )]
    DeviceGone {
        /// Device label.
        device: String,
        /// The request (masked).
        request: String,
        /// EOF or the I/O error.
        cause: String,
        /// The last thing received, or "nothing".
        last: String,
    },
    /// No valid response within the timeout, after all retries.
    #[error(
        "{device}: no response to {request} after {attempts} attempts over {waited:?}; last received: {last}"
    )]
    Timeout {
        /// Device label.
        device: String,
        /// The request (masked).
        request: String,
        /// Sends made (first + retries).
        attempts: u32,
        /// Total time waited.
        waited: Duration,
        /// The last thing received, or "nothing".
        last: String,
    },
    /// The terminal restarted (sent Boot) while a request was outstanding.
    #[error(
        "{device}: terminal restarted (boot {boot_count}) while waiting for the response to {request}"
    )]
    Restarted {
        /// Device label.
        device: String,
        /// The request (masked).
        request: String,
        /// Boot counter from the Boot event.
        boot_count: u32,
    },
    /// A response with the right id whose payload does not decode.
    #[error("{device}: undecodable response to {request}: {cause}")]
    BadResponse {
        /// Device label.
        device: String,
        /// The request (masked).
        request: String,
        /// Decoder error.
        cause: String,
    },
    /// Writing to the port failed.
    #[error("{device}: cannot send {request}: {cause}")]
    Write {
        /// Device label.
        device: String,
        /// The request (masked).
        request: String,
        /// The I/O error.
        cause: String,
    },
}
