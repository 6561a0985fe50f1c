//! Runs every scenario file under `scenarios/` as its own test, named by the
//! path `mailprobe run` prints (`scenarios/seed/op25b-behind-scanner.yaml`),
//! so `cargo test --test scenarios -- seed/` and `--exact PATH` work.

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let trials = match mailprobe::harness::trials::trials("scenarios") {
        Ok(trials) => trials,
        Err(error) => {
            eprintln!("cannot list scenarios/: {error}");
            std::process::exit(2);
        }
    };
    libtest_mimic::run(&args, trials).exit();
}
