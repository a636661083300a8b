//! `fut-emulator --port /dev/pts/N --host 127.0.0.1:PORT --flash FILE`: the reference terminal.
use clap::Parser;

fn main() {
    let args = fut_emulator::EmulatorArgs::parse();
    std::process::exit(fut_emulator::run(&args));
}
